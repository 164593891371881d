// skiff-oci's warm server: one per --root, started on demand by the C front end
// (src/native/oci-front.c) and ended by idleness, so that each engine call costs a connect and
// the call's own work rather than Node's start-up. It lives in <root>/skiff-oci:server (mode
// 0700, ours): `sock`, `lock` (flock: shared by a front end until its call is accepted,
// exclusive to start a server or to end one, so none ends while a caller is connecting) and
// `server.pid`. It answers only callers of its own uid (SO_PEERCRED). Calls run concurrently,
// each through src/oci/main.ts with a RemoteCall as its io; exec and update are handed back.
import { closeSync, lstatSync, openSync, unlinkSync, writeFileSync, writeSync, chmodSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { peerCredentials, tryLockExclusive } from '../sys/libc.js';
import { main, needsOwnProcess } from './main.js';
import { RemoteCall } from './server-call.js';
import { joinServerCgroup, leaveServerCgroup } from './server-cgroup.js';
import { FrameReader, frame, parseRequest, u32Frame } from './server-wire.js';

export const SERVER_DIR = 'skiff-oci:server';
const DEFAULT_IDLE_MS = 30_000;

function idleMs(): number {
  const v = Number(process.env.SKIFF_OCI_SERVER_IDLE_MS);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_IDLE_MS;
}

/** The server's directory, checked: a directory of ours that no one else can enter. */
function checkedDir(root: string): string {
  const dir = join(resolve(root), SERVER_DIR);
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir}: not a directory`);
  if (st.uid !== process.geteuid!()) throw new Error(`${dir}: owned by uid ${st.uid}, not ${process.geteuid!()}`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${dir}: mode ${(st.mode & 0o777).toString(8)}, open to others`);
  return dir;
}

function handle(conn: Socket, done: () => void): void {
  let call: RemoteCall | null = null;
  const reader = new FrameReader();
  conn.on('close', () => {
    call?.deliver(null);
    done();
  });
  conn.on('error', () => conn.destroy());
  const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  let uid: number;
  try {
    uid = peerCredentials(fd).uid;
  } catch {
    conn.destroy(); // gone already
    return;
  }
  if (uid !== process.geteuid!()) {
    conn.end(Buffer.concat([frame('E', `skiff-oci: the server for this --root answers uid ${process.geteuid!()} only, not uid ${uid}\n`), u32Frame('X', 1)]));
    return;
  }
  conn.write(frame('A'));
  conn.on('data', (chunk: Buffer) => {
    let frames;
    try {
      frames = reader.push(chunk);
    } catch {
      conn.destroy();
      return;
    }
    for (const f of frames) {
      if (call !== null) {
        call.deliver(f);
        continue;
      }
      if (f.type !== 'Q') {
        conn.destroy();
        return;
      }
      let req;
      try {
        req = parseRequest(f.payload);
      } catch {
        conn.destroy(); // not our front end: nothing was done for it
        return;
      }
      if (needsOwnProcess(req.argv)) {
        conn.end(frame('F'));
        return;
      }
      const c = new RemoteCall(conn, req);
      call = c;
      main(req.argv, c).then((code) => conn.end(u32Frame('X', code)), () => conn.destroy());
    }
  });
}

export async function serve(root: string, readyFd: number | null): Promise<void> {
  const dir = checkedDir(root);
  // Paths on the command line are taken from each caller's cwd, never this process's.
  process.chdir(dir);
  const lockFd = openSync('lock', 'r+');
  try {
    unlinkSync('sock'); // a dead server's: we are started under the exclusive lock
  } catch {
    // none
  }
  // Warm: the modules of every call are loaded before the first one arrives.
  await Promise.all([import('./create.js'), import('./lifecycle.js'), import('./features.js'), import('../native/launch.js'), import('../sys/proc.js')]);
  const cgroup = joinServerCgroup(resolve(root));
  const removeFiles = (): void => {
    if (cgroup !== null) leaveServerCgroup(cgroup);
    for (const f of ['sock', 'server.pid']) {
      try {
        unlinkSync(f);
      } catch {
        // the root was removed under us
      }
    }
  };
  process.on('SIGTERM', () => {
    removeFiles();
    process.exit(0);
  });
  let active = 0;
  let timer: NodeJS.Timeout | null = null;
  const server = createServer();
  const idle = (delay = idleMs()): void => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      if (active > 0) return;
      // A caller between its connect and our accept holds the lock shared: try again later.
      if (!tryLockExclusive(lockFd, join(dir, 'lock'))) return idle(50);
      server.close();
      removeFiles();
      process.exit(0);
    }, delay);
  };
  server.on('connection', (conn: Socket) => {
    active++;
    if (timer !== null) clearTimeout(timer);
    handle(conn, () => {
      if (--active === 0) idle();
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen({ path: 'sock', exclusive: true }, () => res());
  });
  chmodSync('sock', 0o600);
  writeFileSync('server.pid', `${process.pid}\n`);
  if (readyFd !== null) {
    writeSync(readyFd, '1');
    closeSync(readyFd);
  }
  idle();
}
