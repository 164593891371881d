// The container endpoints that stream: wait (headers now, body at the exit), logs (the ring or
// the log file, or follow), attach (a hijacked connection: Docker's 8-byte frames by stream
// without a TTY, raw bytes with one; stdin in, its end closing the container's stdin with
// StdinOnce; detach keys with a TTY) and the event stream.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { DetachWatcher, parseDetachKeys } from '../../api/detach-keys.js';
import { decodeRecords, type OutputRecord } from '../../forwarder/index.js';
import { streamEvents } from '../docker/events.js';
import type { EventBus } from '../events.js';
import { consoleLogPath } from '../lifecycle/console-holds.js';
import { InvalidArgument, Unsupported } from '../lifecycle/errors.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import { isActive } from '../lifecycle/states.js';
import { WAIT_CONDITIONS, type Supervisor } from '../lifecycle/supervisor.js';
import { lastLines, logSelection, LogWriter, selected } from './log-output.js';
import { flag, oneOf } from './query.js';
import { API_VERSION, type Reply } from './respond.js';
import { isUpgrade, readUpgradeBody } from './upgrade-body.js';

/** Docker's default detach sequence (ctrl-p, ctrl-q), used with a TTY when the client names none. */
const DEFAULT_DETACH_KEYS = [0x10, 0x11];

/** What the API needs of the console forwarder beyond what the supervisor uses. */
export interface ConsoleAccess {
  /** with records: true, output carries one OutputRecord per chunk */
  attach(id: string, opts: { replay: boolean; stdin: boolean; records: true; transient?: boolean }): Promise<{
    output: Readable;
    /** how many of the first records are the ring's replay */
    readonly replayed: number;
    write(data: Buffer): void;
    closeInput(): void;
    close(): void;
  }>;
  ring(id: string): Promise<Buffer>;
  records(id: string): Promise<OutputRecord[]>;
  resize(id: string, rows: number, cols: number): Promise<void>;
  counters(id: string): Promise<object>;
}

export class ContainerStreams {
  constructor(private readonly sup: Supervisor, private readonly consoles: ConsoleAccess | null, private readonly eventBus: EventBus) {}

  private consoleAccess(): ConsoleAccess {
    if (!this.consoles) throw new Unsupported('this skiffd has no console forwarder');
    return this.consoles;
  }

  async wait(ref: string, q: URLSearchParams, res: Reply): Promise<void> {
    const sup = this.sup;
    sup.get(ref); // 404 before the headers go out
    const condition = oneOf(q, 'condition', WAIT_CONDITIONS, 'not-running');
    const answer = (r: ContainerRecord) => ({ StatusCode: r.exitCode ?? 0, Error: r.error ? { Message: r.error } : null });
    const now = sup.waitMet(ref, condition);
    if (now !== null) {
      // Met already (a client that waits after the exit): headers and body in one write.
      res.send(200, answer(now));
      return;
    }
    // Docker answers the headers at once and the body when the condition is met.
    res.head();
    res.end(JSON.stringify(answer(await sup.wait(ref, condition))));
  }

  async logs(ref: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const r = this.sup.get(ref);
    const consoles = this.consoleAccess();
    const framed = !r.spec.tty;
    const sel = logSelection(q); // a bad parameter is a 400 before the headers go out
    const follow = flag(q, 'follow') && isActive(r);
    const fromFile = q.get('source') === 'file';
    await this.sup.consoleOpened(r);
    const past = fromFile ? await this.logFile(r) : follow ? null : await consoles.records(r.id).catch(() => []);
    res.writeHead(200, { 'Content-Type': framed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream', 'Api-Version': API_VERSION });
    const writer = new LogWriter(framed, sel.timestamps);
    const send = (records: OutputRecord[]) => {
      const keep = records.filter((rec) => selected(sel, rec));
      for (const rec of sel.tail === null ? keep : lastLines(keep, sel.tail)) res.write(writer.encode(rec));
    };
    if (past !== null) {
      send(past);
      res.end();
      return;
    }
    // Follow: the ring's records as the replay (tail applies to them), then live ones as they come.
    const client = await consoles.attach(r.id, { replay: true, stdin: false, records: true });
    // The first `replayed` records are the ring's: tail applies to them as a whole.
    const replay: OutputRecord[] = [];
    let flushed = client.replayed === 0;
    const flush = () => {
      if (flushed) return;
      flushed = true;
      send(replay);
    };
    client.output.on('data', (rec: OutputRecord) => {
      if (!flushed) {
        replay.push(rec);
        if (replay.length === client.replayed) flush();
      } else if (selected(sel, rec)) {
        res.write(writer.encode(rec));
      }
    });
    client.output.on('end', () => { flush(); res.end(); });
    res.on('close', () => client.close());
  }

  /** skiff's own: the whole console log (the rotated file, then the current one) instead of the ring. */
  private async logFile(r: ContainerRecord): Promise<OutputRecord[]> {
    const path = consoleLogPath(r.spec, this.sup.stateDir(r.name));
    if (path === null) throw new InvalidArgument(`${r.name} keeps no console log file (console.log is off); its ring is what \`logs\` shows`);
    const parts = await Promise.all([`${path}.1`, path].map((p) => readFile(p).catch(() => Buffer.alloc(0))));
    // With a TTY the log is a raw transcript (one stream, no times); without one, records.
    if (r.spec.tty) return [{ stream: 1 as const, time: 0, data: Buffer.concat(parts) }].filter((x) => x.data.length > 0);
    return parts.flatMap((p, k) => decodeRecords(p, k === 0 ? `${path}.1` : path));
  }

  async attach(ref: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = this.sup.get(ref);
    const consoles = this.consoleAccess();
    const framed = !r.spec.tty;
    const replay = q.get('logs') === null ? true : flag(q, 'logs');
    const wantStdin = flag(q, 'stdin');
    const keysText = q.get('detachKeys');
    let detachKeys: number[] = DEFAULT_DETACH_KEYS;
    try {
      if (keysText !== null && keysText !== '') detachKeys = parseDetachKeys(keysText);
    } catch (err) {
      throw new InvalidArgument(`query parameter detachKeys: ${(err as Error).message}`);
    }
    const sel = { ...logSelection(q), since: null, until: null, tail: null, timestamps: false };
    // A body (dockerode sends its options as one) is not the container's input: read past it.
    if (isUpgrade(req)) await readUpgradeBody(req);
    await this.sup.consoleOpened(r);
    const socket = hijack(req, res, framed);
    // Transient records: each is written to the socket at once, and what the socket keeps is a
    // copy (a frame, or for a TTY's raw bytes Buffer.from), so the reader reuses its buffer.
    const client = await consoles.attach(r.id, { replay, stdin: wantStdin, records: true, transient: true });
    const writer = new LogWriter(framed, false);
    client.output.on('data', (rec: OutputRecord) => {
      if (!selected(sel, rec)) return;
      const bytes = writer.encode(rec);
      socket.write(bytes === rec.data ? Buffer.from(bytes) : bytes);
    });
    client.output.on('end', () => socket.end());
    let inputEnded = false;
    // StdinOnce: the end of this client's input (a half-close, or the connection gone) is the end of the container's.
    const endInput = () => {
      if (!wantStdin || inputEnded) return;
      inputEnded = true;
      if (r.spec.stdinOnce) client.closeInput();
    };
    if (wantStdin) {
      // Detach keys are Docker's on a TTY only: a pipe's input is data, passed on as it is.
      const watcher = r.spec.tty ? new DetachWatcher(detachKeys) : null;
      socket.on('data', (b: Buffer) => {
        if (inputEnded) return;
        if (watcher === null) {
          client.write(b);
          return;
        }
        const { forward, detach } = watcher.feed(b);
        if (forward.length > 0) client.write(forward);
        if (detach) {
          // Detached: the stream ends, the container goes on (its stdin stays open).
          inputEnded = true;
          client.close();
          socket.end();
        }
      });
      socket.on('end', endInput);
    }
    // Paused by readUpgradeBody (or never flowing yet): read on, so that the client's end is seen.
    socket.resume();
    socket.on('close', () => {
      endInput();
      client.close();
    });
    socket.on('error', () => client.close());
  }

  events(q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    streamEvents(this.eventBus, q, req, res, API_VERSION);
  }

}

/**
 * Docker hijacks the connection for attach and exec start: 101 for an upgrade, else a 200 whose
 * body is the raw stream (8-byte frames when `framed`). The response object writes nothing more.
 */
export function hijack(req: IncomingMessage, res: ServerResponse, framed: boolean): Duplex {
  const upgrade = (req.headers.connection ?? '').toLowerCase().includes('upgrade');
  const socket: Duplex = req.socket;
  const type = framed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
  socket.write(upgrade
    ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`
    : `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nApi-Version: ${API_VERSION}\r\n\r\n`);
  (res as unknown as { _header: string })._header = '';
  res.writeHead = (() => res);
  res.end = (() => res) as never;
  return socket;
}
