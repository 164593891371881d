// Starting a keeper process (keeper-main.ts) for skiffd (keeper-link.ts): detached, in a
// session of its own, so neither a terminal's Ctrl-C nor skiffd's death reaches it; ready once
// it writes `ready` on fd 3, a pipe whose end of file later tells it that skiffd has exited.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface KeeperOptions {
  /** where the keeper's socket, lock and log are: skiffd's private state directory */
  dir: string;
  threads?: number;
  clientBacklog?: number;
  spliceTty?: boolean;
}

/** Starts a keeper and resolves once it listens (it writes `ready` to fd 3). */
export async function startKeeper(o: KeeperOptions): Promise<ChildProcess> {
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
