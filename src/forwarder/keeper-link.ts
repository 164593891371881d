// skiffd's end of the keeper (keeper.ts): it connects to `<dir>/keeper.sock`, or, when no
// keeper answers there, starts one (detached, in a session of its own, so neither a terminal's
// Ctrl-C nor skiffd's death reaches it) and connects once it says ready. Requests and replies
// go as frames (wire.ts); fds a reply names are opened through /proc/<keeper>/fd/N and then
// released with `taken`.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { close, openPath } from '../sys/libc.js';
import { O_NONBLOCK } from '../sys/constants.js';
import type { Reply, Request } from './protocol.js';
import { encodeFrame, FrameDecoder, FrameWriter, KEEPER_PROTOCOL, type Welcome } from './wire.js';

export interface KeeperOptions {
  /** where the keeper's socket, lock and log are: skiffd's private state directory */
  dir: string;
  threads?: number;
  clientBacklog?: number;
  spliceTty?: boolean;
}

/** What the hub sends requests to: the keeper process, or forwarder threads in this process. */
export interface Endpoint {
  send(req: Request): void;
  /**
   * The fds a reply named, as fds of this process that the caller now owns (flags: how to open
   * each). `release`: when the keeper is told to close its copies, at once or with the next
   * frame (see KeeperLink.take).
   */
  take(fds: number[], flags: number[], release: 'now' | 'with-next-frame'): number[];
  close(): Promise<void>;
  /** processes of skiffd's own that this endpoint started (not containers: the stray reaper leaves them alone) */
  pids(): number[];
}

export class KeeperLink implements Endpoint {
  private closing = false;
  private readonly writer: FrameWriter;
  /** fds taken whose `taken` goes with the next frame */
  private takenLater: number[] = [];

  private constructor(private readonly sock: Socket, readonly pid: number, private readonly what: string) {
    this.writer = new FrameWriter(sock);
  }

  /**
   * Connects to the keeper of `dir`, starting one if none answers. `onReply` gets every reply;
   * `onLost` is called once if the connection ends while the hub still uses it.
   */
  static async open(o: KeeperOptions, onReply: (r: Reply) => void, onLost: (err: Error) => void): Promise<KeeperLink> {
    const path = join(o.dir, 'keeper.sock');
    if (Buffer.byteLength(path) > 107) throw new Error(`the keeper's socket \`${path}\` is longer than the 107 bytes a unix socket address holds`);
    let link = await KeeperLink.tryConnect(path, onReply, onLost);
    if (link !== null) return link;
    const child = await startKeeper(o);
    link = await KeeperLink.tryConnect(path, onReply, onLost);
    if (link === null) {
      child.kill('SIGKILL');
      throw new Error(`the keeper started (pid ${child.pid}) but does not answer on \`${path}\``);
    }
    return link;
  }

  /** null: nobody listens there (or a keeper that is ending refused), so one must be started. */
  private static tryConnect(path: string, onReply: (r: Reply) => void, onLost: (err: Error) => void): Promise<KeeperLink | null> {
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      const decoder = new FrameDecoder('keeper → skiffd');
      let link: KeeperLink | null = null;
      const settle = (v: KeeperLink | null, err?: Error) => {
        if (err) reject(err);
        else resolve(v);
      };
      sock.once('error', (err: NodeJS.ErrnoException) => {
        if (link === null) settle(null, err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? undefined : new Error(`connect to the keeper at \`${path}\`: ${err.code ?? err.message}`));
      });
      sock.on('data', (b: Buffer) => {
        try {
          decoder.push(b, (m) => {
            if (link !== null) return onReply(m as Reply);
            const w = m as Welcome;
            if ('refused' in w) {
              sock.destroy();
              // An ending keeper lets go of its socket in a moment; a refusal for any other reason is an error.
              settle(null, w.refused === 'the keeper is ending' ? undefined : new Error(`the keeper at \`${path}\` refused skiffd: ${w.refused}`));
              return;
            }
            link = new KeeperLink(sock, w.pid, `the keeper (pid ${w.pid})`);
            sock.on('close', () => { if (!link!.closing) onLost(new Error(`${link!.what} has gone`)); });
            settle(link);
          });
        } catch (err) {
          sock.destroy(err as Error);
          if (link === null) settle(null, err as Error);
          else onLost(err as Error);
        }
      });
      sock.on('close', () => { if (link === null) settle(null); });
      sock.write(encodeFrame({ hello: KEEPER_PROTOCOL }));
    });
  }

  send(req: Request): void {
    if (this.takenLater.length > 0) {
      this.writer.write({ type: 'taken', fds: this.takenLater });
      this.takenLater = [];
    }
    this.writer.write(req);
  }

  /**
   * Opens the keeper's fds through /proc. Its copies are of no use to anyone then, opened or
   * not, and it is told so (`taken`) at once, or with the next frame: a pipe console's
   * container ends, whose copies in the keeper only keep the pipes from reporting end of
   * file, and the next frame about that console (exited, or its removal) always comes first.
   * That saves a frame, and a wake-up of the keeper, per container.
   */
  take(fds: number[], flags: number[], release: 'now' | 'with-next-frame'): number[] {
    const mine: number[] = [];
    try {
      fds.forEach((fd, i) => mine.push(openPath(`/proc/${this.pid}/fd/${fd}`, flags[i]! | O_NONBLOCK)));
    } catch (err) {
      for (const fd of mine) close(fd);
      throw new Error(`take a pipe from ${this.what}: ${(err as Error).message}`, { cause: err });
    } finally {
      if (release === 'now') this.writer.write({ type: 'taken', fds });
      else this.takenLater.push(...fds);
    }
    return mine;
  }

  /** Lets go of the keeper, which goes on (and ends once nothing is live). */
  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve();
      this.sock.once('close', () => resolve());
      this.sock.end();
    });
  }

  pids(): number[] {
    return [this.pid];
  }
}

/** Starts a keeper and resolves once it listens (it writes `ready` to fd 3). */
async function startKeeper(o: KeeperOptions): Promise<ChildProcess> {
  const logPath = join(o.dir, 'keeper.log');
  const log = openSync(logPath, 'a', 0o600);
  const args = [
    ...keeperEntry(), '--dir', o.dir,
    ...(o.threads !== undefined ? ['--threads', String(o.threads)] : []),
    ...(o.clientBacklog !== undefined ? ['--client-backlog', String(o.clientBacklog)] : []),
    ...(o.spliceTty === false ? ['--no-splice'] : []),
  ];
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log, 'pipe'] });
  } finally {
    closeSync(log);
  }
  const ready = child.stdio[3] as Socket;
  await new Promise<void>((resolve, reject) => {
    let said = '';
    const onData = (b: Buffer) => {
      said += b.toString();
      if (said.includes('ready\n')) {
        ready.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      const tail = readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' / ');
      reject(new Error(`the keeper exited with ${code ?? signal} before it was ready: ${tail}`));
    };
    ready.on('data', onData);
    child.once('exit', onExit);
  });
  // The keeper outlives skiffd: neither its handle nor this pipe keeps skiffd's loop alive. skiffd's
  // end of the pipe stays open for skiffd's whole life, so its end of file tells the keeper skiffd has exited.
  ready.on('data', () => undefined);
  ready.unref();
  child.unref();
  return child;
}

/** keeper-main next to this module: .js when compiled, .ts (with tsx) when run from source. */
function keeperEntry(): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? './keeper-main.ts' : './keeper-main.js', import.meta.url));
  return fromSource ? ['--import', 'tsx', file] : [file];
}
