// Process entry of the keeper (`skiff-keeper`), started by skiffd (keeper-link.ts) when none
// answers on `<dir>/keeper.sock`:
//
//   node keeper-main.js --dir <state>/.skiffd [--threads N] [--client-backlog BYTES] [--no-splice]
//
// It takes `<dir>/keeper.lock` (one keeper per state directory; the kernel drops the flock
// however it dies), listens on `<dir>/keeper.sock` (0600), then writes `ready` to fd 3 and
// watches that pipe: its end of file means the skiffd that started it has exited.
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RLIMIT_NOFILE } from '../sys/constants.js';
import { raiseSoftLimit, tryLockExclusive } from '../sys/libc.js';
import { listenOwnerOnly } from '../sys/unix-listen.js';
import { Keeper } from './keeper.js';

const READY_FD = 3;
/** how long a keeper waits for an ending one to let go of the lock */
const LOCK_WAIT_MS = 10_000;

async function lock(path: string): Promise<number> {
  const fd = openSync(path, 'a+', 0o600);
  const deadline = Date.now() + LOCK_WAIT_MS;
  // A keeper that is ending (nothing live, no skiffd) lets go within moments; a live one answers
  // on the socket, and skiffd never starts a second keeper while one answers.
  while (!tryLockExclusive(fd, path)) {
    if (Date.now() > deadline) {
      const holder = readFileSync(path, 'utf8').trim();
      closeSync(fd);
      throw new Error(`another keeper${/^\d+$/.test(holder) ? ` (pid ${holder})` : ''} holds \`${path}\``);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  return fd;
}

function hasFd(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { dir: { type: 'string' }, threads: { type: 'string' }, 'client-backlog': { type: 'string' }, 'no-splice': { type: 'boolean' } },
    strict: true,
  });
  if (values.dir === undefined || !values.dir.startsWith('/')) throw new Error(`--dir must be an absolute directory, got ${JSON.stringify(values.dir)}`);
  process.title = 'skiff-keeper';
  raiseSoftLimit(RLIMIT_NOFILE);
  const lockFd = await lock(join(values.dir, 'keeper.lock'));
  const socketPath = join(values.dir, 'keeper.sock');
  // We hold the lock: a socket there is a dead keeper's.
  try {
    unlinkSync(socketPath);
  } catch {
    // none
  }
  const server = createServer();
  await listenOwnerOnly(server, socketPath);
  const spawned = hasFd(READY_FD);
  const keeper = new Keeper({
    ...(values.threads ? { threads: Number(values.threads) } : {}),
    ...(values['client-backlog'] ? { clientBacklog: Number(values['client-backlog']) } : {}),
    spliceTty: !values['no-splice'],
  }, server, spawned, () => {
    closeSync(lockFd);
    process.exit(0);
  });
  if (spawned) {
    const ready = new Socket({ fd: READY_FD, readable: true, writable: true });
    ready.write('ready\n');
    ready.on('data', () => undefined);
    ready.on('error', () => undefined);
    ready.once('close', () => keeper.spawnerGone());
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`skiff-keeper: ${err.message}\n`);
  process.exit(1);
});
