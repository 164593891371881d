// A pty's slave side as skiffd holds it between allocating a console and the container's
// start: holding it keeps the master from reporting hang-up (EIO) before PID 1 opens it,
// and its terminal modes are the pair's modes.
import { c, check } from './libc-handle.js';
import { O_CLOEXEC, O_NOCTTY, O_RDWR, TCSANOW } from './constants.js';

const TERMIOS_SIZE = 64; // glibc's struct termios is 60 bytes on Linux; a little slack

/** Opens a pty slave without making it our controlling terminal. */
export function openSlave(path: string): number {
  return check(c.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC), 'open', path);
}

export function closeSlave(fd: number): void {
  c.close(fd);
}

/**
 * Raw mode: no echo, no line editing, no "\n" → "\r\n". What a container without a TTY
 * (`docker run` without -t) should see: its bytes pass through unchanged.
 */
export function makeRaw(fd: number, path: string): void {
  const t = Buffer.alloc(TERMIOS_SIZE);
  check(c.tcgetattr(fd, t), 'tcgetattr', path);
  c.cfmakeraw(t);
  check(c.tcsetattr(fd, TCSANOW, t), 'tcsetattr', path);
}
