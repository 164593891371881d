// The pipe and splice calls the console forwarder needs (declared in libc-handle.ts). Set-up
// calls throw SysError; the hot-path calls (splice, tee, read/write on non-blocking fds)
// return -errno instead, because EAGAIN is their normal way to say "not now".
import { c, check, raw } from './libc-handle.js';
import { FIONREAD, F_GETPIPE_SZ, F_SETPIPE_SZ, SEEK_END } from './constants.js';

export interface Pipe {
  read: number;
  write: number;
}

/** pipe2(2); flags such as O_CLOEXEC | O_NONBLOCK apply to both ends. */
export function pipe(flags: number): Pipe {
  const fds = new Int32Array(2);
  check(c.pipe2(fds, flags), 'pipe2');
  return { read: fds[0]!, write: fds[1]! };
}

/**
 * Sets a pipe's capacity; the kernel rounds up to a power of two pages and returns what it
 * set. Beyond /proc/sys/fs/pipe-max-size it needs CAP_SYS_RESOURCE (else EPERM).
 */
export function setPipeSize(fd: number, bytes: number): number {
  return check(c.fcntl(fd, F_SETPIPE_SZ, 'int', bytes), 'fcntl(F_SETPIPE_SZ)', `fd ${fd}`);
}

export function getPipeSize(fd: number): number {
  return check(c.fcntl(fd, F_GETPIPE_SZ), 'fcntl(F_GETPIPE_SZ)', `fd ${fd}`);
}

/** Bytes waiting to be read in a pipe or tty (FIONREAD). */
export function bytesReadable(fd: number): number {
  const n = new Int32Array(1);
  check(c.ioctl(fd, FIONREAD, 'int *', n), 'ioctl(FIONREAD)', `fd ${fd}`);
  return n[0]!;
}

/** splice(2) at the fds' own positions; returns bytes moved, 0 at EOF, or -errno. */
export function splice(fdIn: number, fdOut: number, len: number, flags: number): number {
  return raw(c.splice(fdIn, null, fdOut, null, len, flags));
}

/** tee(2): duplicates up to len bytes from one pipe to another without consuming them; bytes or -errno. */
export function tee(fdIn: number, fdOut: number, len: number, flags: number): number {
  return raw(c.tee(fdIn, fdOut, len, flags));
}

/** write(2) of buf[0, length); bytes written or -errno (EAGAIN on a full non-blocking fd). */
export function writeRaw(fd: number, buf: Uint8Array, length = buf.length): number {
  return raw(c.write(fd, buf, length));
}

/** Moves a file's position to its end (splice refuses O_APPEND files, so appending is done this way). */
export function seekToEnd(fd: number, path: string): number {
  return check(c.lseek(fd, 0, SEEK_END), 'lseek', path);
}
