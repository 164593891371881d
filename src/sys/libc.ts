// The libc calls skiffd, its launchers and its forwarder threads make, each wrapped so that a
// failure becomes a SysError naming the call, the path and the errno. The functions are declared
// (with their C types) in libc-handle.ts, the constants are in constants.ts (koffi-free).
// Only src/sys/ and src/native/ import koffi.
import { asError } from '../api/errors.js';
import { EINTR, EWOULDBLOCK, SysError } from './errno.js';
import { c, check, raw } from './libc-handle.js';
import {
  EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, F_DUPFD_CLOEXEC, F_GETFL, F_SETFD, F_SETFL, LOCK_EX, LOCK_NB,
  O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDWR, PR_GET_CHILD_SUBREAPER, PR_SET_CHILD_SUBREAPER, PR_SET_NAME, P_PIDFD, SOL_SOCKET, SO_PEERCRED,
  TIOCSWINSZ, WEXITED, WNOHANG,
} from './constants.js';

export { lastErrno } from './libc-handle.js';

// ── process control ──
/** Makes this process the child subreaper (or no longer, with false): orphaned descendants are re-parented to it. */
export function setChildSubreaper(on = true): void {
  check(c.prctl(PR_SET_CHILD_SUBREAPER, 'unsigned long', on ? 1 : 0, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0), 'prctl(PR_SET_CHILD_SUBREAPER)');
}

/** Whether this process is a child subreaper now (so a caller that sets it for a while can put it back). */
export function isChildSubreaper(): boolean {
  const flag = Buffer.alloc(4); // int *
  check(c.prctl(PR_GET_CHILD_SUBREAPER, 'void *', flag, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0), 'prctl(PR_GET_CHILD_SUBREAPER)');
  return flag.readInt32LE(0) !== 0;
}

/** Names the calling thread (what ps -L and /proc/<pid>/task/<tid>/comm show; 15 bytes max). */
export function setThreadName(name: string): void {
  check(c.prctl(PR_SET_NAME, 'const char *', name.slice(0, 15), 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0), 'prctl(PR_SET_NAME)');
}

export function pidfdOpen(pid: number): number {
  return check(c.pidfd_open(pid, 0), 'pidfd_open', `pid ${pid}`);
}

/**
 * A copy of another process's fd (pidfd_getfd(2), close-on-exec): how a pty master crosses from
 * the launcher that received it to the forwarder, since opening /proc/PID/fd/N of a master would
 * make a new pty rather than reach that one.
 */
export function takeFd(pid: number, fd: number): number {
  const pidfd = pidfdOpen(pid);
  try {
    return check(c.pidfd_getfd(pidfd, fd, 0), 'pidfd_getfd', `fd ${fd} of pid ${pid}`);
  } finally {
    close(pidfd);
  }
}

export function pidfdSendSignal(pidfd: number, signal: number): void {
  check(c.pidfd_send_signal(pidfd, signal, null, 0), 'pidfd_send_signal', `signal ${signal}`);
}

export interface ChildExit {
  /** CLD_EXITED, CLD_KILLED or CLD_DUMPED */
  code: number;
  /** exit status (CLD_EXITED) or signal number */
  status: number;
}

const SIGINFO_SIZE = 128;
/** waitid(P_PIDFD, WEXITED|WNOHANG): the exit if the process has ended, else null. Reaps it. */
export function waitPidfd(pidfd: number): ChildExit | null {
  const info = Buffer.alloc(SIGINFO_SIZE);
  check(c.waitid(P_PIDFD, pidfd, info, WEXITED | WNOHANG), 'waitid(P_PIDFD)');
  const pid = info.readInt32LE(16);
  if (pid === 0) return null;
  return { code: info.readInt32LE(8), status: info.readInt32LE(24) };
}

// ── fds ──
export function close(fd: number): void {
  check(c.close(fd), 'close', `fd ${fd}`);
}

/** read(2) into buf; returns bytes read, 0 at EOF, or -errno (EAGAIN, EIO…) without throwing. */
export function readRaw(fd: number, buf: Buffer, length = buf.length): number {
  return raw(c.read(fd, buf, length));
}

export function write(fd: number, buf: Buffer): number {
  return check(c.write(fd, buf, buf.length), 'write', `fd ${fd}`);
}

/** write(2); returns bytes written or -errno (EAGAIN, EPIPE…) without throwing. */
export function writeRaw(fd: number, buf: Buffer): number {
  return raw(c.write(fd, buf, buf.length));
}

/** A close-on-exec duplicate of fd (the lowest free number from 3). */
export function dupFd(fd: number): number {
  return check(c.fcntl(fd, F_DUPFD_CLOEXEC, 'int', 3), 'fcntl(F_DUPFD_CLOEXEC)', `fd ${fd}`);
}

export function setNonBlocking(fd: number): void {
  const flags = check(c.fcntl(fd, F_GETFL), 'fcntl(F_GETFL)');
  check(c.fcntl(fd, F_SETFL, 'int', flags | O_NONBLOCK), 'fcntl(F_SETFL)');
}

/** flock(LOCK_EX|LOCK_NB): true if taken, false if another open file description holds it. */
export function tryLockExclusive(fd: number, path: string): boolean {
  const rc = raw(c.flock(fd, LOCK_EX | LOCK_NB));
  if (rc === 0) return true;
  if (rc === -EWOULDBLOCK) return false;
  throw new SysError('flock', -rc, path);
}

/** Lets `fd` survive execve: only the test suite's canary fd wants this (see src/workers/launcher.ts). */
export function clearCloseOnExec(fd: number): void {
  check(c.fcntl(fd, F_SETFD, 'int', 0), 'fcntl(F_SETFD)');
}

export function openPath(path: string, flags: number): number {
  return check(c.open(path, flags | O_CLOEXEC), 'open', path);
}

/** poll(2) on one fd, waiting at most `timeoutMs` (0: not at all): the events (revents) it reports, 0 if none in time. */
export function pollNow(fd: number, events: number, timeoutMs = 0): number {
  const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  const n = raw(c.poll(pfd, 1, timeoutMs));
  if (n === -EINTR) return 0;
  if (n < 0) throw new SysError('poll', -n, `fd ${fd}`);
  return pfd.readInt16LE(6);
}

// ── epoll / eventfd ──
/** struct epoll_event is packed on x86_64 (12 bytes) and naturally aligned elsewhere (16). */
export const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export function epollCreate(): number {
  return check(c.epoll_create1(EPOLL_CLOEXEC), 'epoll_create1');
}

function epollCtl(epfd: number, op: number, name: string, fd: number, events: number, data: number): void {
  const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
  ev.writeUInt32LE(events, 0);
  ev.writeBigUInt64LE(BigInt(data), EPOLL_DATA_OFFSET);
  check(c.epoll_ctl(epfd, op, fd, ev), name, `fd ${fd}`);
}

export function epollAdd(epfd: number, fd: number, events: number, data: number): void {
  epollCtl(epfd, EPOLL_CTL_ADD, 'epoll_ctl(ADD)', fd, events, data);
}

/** Changes the events (and data) fd is watched for. */
export function epollMod(epfd: number, fd: number, events: number, data: number): void {
  epollCtl(epfd, EPOLL_CTL_MOD, 'epoll_ctl(MOD)', fd, events, data);
}

export function epollDel(epfd: number, fd: number): void {
  check(c.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, null), 'epoll_ctl(DEL)', `fd ${fd}`);
}

export interface EpollEvent { events: number; data: number }

function decodeEvents(buf: Buffer, n: number): EpollEvent[] {
  const out: EpollEvent[] = [];
  for (let i = 0; i < n; i++) {
    const at = i * EPOLL_EVENT_SIZE;
    out.push({ events: buf.readUInt32LE(at), data: Number(buf.readBigUInt64LE(at + EPOLL_DATA_OFFSET)) });
  }
  return out;
}

/** epoll_wait in the calling thread (timeout ms; -1 = forever). EINTR yields no events. */
export function epollWait(epfd: number, buf: Buffer, timeoutMs: number): EpollEvent[] {
  const n = raw(c.epoll_wait(epfd, buf, Math.floor(buf.length / EPOLL_EVENT_SIZE), timeoutMs));
  if (n === -EINTR) return [];
  if (n < 0) throw new SysError('epoll_wait', -n);
  return decodeEvents(buf, n);
}

/** epoll_wait on libuv's thread pool, so the event loop keeps running meanwhile. */
export function epollWaitAsync(epfd: number, buf: Buffer, timeoutMs: number): Promise<EpollEvent[]> {
  return new Promise((resolve, reject) => {
    c.epoll_wait.async(epfd, buf, Math.floor(buf.length / EPOLL_EVENT_SIZE), timeoutMs, (err: unknown, rc: number) => {
      if (err) return reject(asError(err));
      const n = raw(rc);
      if (n === -EINTR) return resolve([]);
      if (n < 0) return reject(new SysError('epoll_wait', -n));
      resolve(decodeEvents(buf, n));
    });
  });
}

export function eventfd(flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
  return check(c.eventfd(0, flags), 'eventfd');
}

const ONE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
export function eventfdSignal(fd: number): void {
  c.write(fd, ONE, 8);
}

export function eventfdDrain(fd: number): void {
  c.read(fd, Buffer.alloc(8), 8);
}

// ── inotify ──
/** An inotify instance, close-on-exec and non-blocking (its events are read when epoll says so). */
export function inotifyInit(): number {
  return check(c.inotify_init1(O_CLOEXEC | O_NONBLOCK), 'inotify_init1');
}

/** Watches `path` for `mask` (IN_MODIFY…); returns the watch descriptor its events carry. */
export function inotifyAddWatch(fd: number, path: string, mask: number): number {
  return check(c.inotify_add_watch(fd, path, mask), 'inotify_add_watch', path);
}

/** Ends a watch; one the kernel ended already (its file removed: IN_IGNORED) is no error. */
export function inotifyRmWatch(fd: number, wd: number): void {
  raw(c.inotify_rm_watch(fd, wd));
}

export interface InotifyEvent { wd: number; mask: number }

/** The events queued on a non-blocking inotify fd (none: []); struct inotify_event is {int wd; u32 mask, cookie, len; char name[len]}. */
export function inotifyRead(fd: number, buf: Buffer): InotifyEvent[] {
  const out: InotifyEvent[] = [];
  for (;;) {
    const n = raw(c.read(fd, buf, buf.length));
    if (n <= 0) return out; // -EAGAIN: drained
    for (let at = 0; at + 16 <= n; at += 16 + buf.readUInt32LE(at + 12)) out.push({ wd: buf.readInt32LE(at), mask: buf.readUInt32LE(at + 4) });
  }
}

// ── ptys ──
export interface PtyPair {
  /** the master fd: close-on-exec, kept by whoever forwards the console */
  master: number;
  /** the slave's path, e.g. /dev/pts/7, opened by the container's PID 1 */
  slavePath: string;
}

/** Allocates a pty pair. ENOSPC/EAGAIN here means kernel.pty.max is reached. */
export function openPty(options: { nonBlocking?: boolean } = {}): PtyPair {
  const flags = O_RDWR | O_NOCTTY | O_CLOEXEC | (options.nonBlocking ? O_NONBLOCK : 0);
  const master = check(c.posix_openpt(flags), 'posix_openpt', '/dev/ptmx');
  try {
    check(c.grantpt(master), 'grantpt', '/dev/ptmx');
    check(c.unlockpt(master), 'unlockpt', '/dev/ptmx');
    const name = Buffer.alloc(128);
    const rc = c.ptsname_r(master, name, name.length);
    if (rc !== 0) throw new SysError('ptsname_r', rc, '/dev/ptmx');
    return { master, slavePath: name.toString('latin1', 0, name.indexOf(0)) };
  } catch (err) {
    c.close(master);
    throw err;
  }
}

export function setWindowSize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  check(c.ioctl(fd, TIOCSWINSZ, 'uint8_t *', ws), 'ioctl(TIOCSWINSZ)', `fd ${fd}`);
}

// ── resource limits ──
/** Raises the soft limit of a resource to its hard limit; returns the new soft limit. */
export function raiseSoftLimit(resource: number): number {
  const lim = new BigUint64Array(2);
  check(c.getrlimit(resource, lim), 'getrlimit');
  if (lim[0] !== lim[1]) {
    lim[0] = lim[1]!;
    check(c.setrlimit(resource, lim), 'setrlimit');
  }
  return Number(lim[0]);
}

// ── peer credentials of a unix socket ──
export interface PeerCredentials { pid: number; uid: number; gid: number }

/** Who is at the other end of a connected unix socket, as the kernel saw it at connect(). */
export function peerCredentials(fd: number): PeerCredentials {
  const cred = Buffer.alloc(12);
  const len = [12];
  check(c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len), 'getsockopt(SO_PEERCRED)', `fd ${fd}`);
  return { pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(8) };
}
