// A pty's slave side as skiffd holds it between allocating a console and the container's
// start: holding it keeps the master from reporting hang-up (EIO) before PID 1 opens it,
// and its terminal modes are the pair's modes.
import koffi from 'koffi';
import { SysError } from './errno.js';

const libc = koffi.load('libc.so.6');
const c = {
  open: libc.func('int open(const char *path, int flags)'),
  close: libc.func('int close(int fd)'),
  tcgetattr: libc.func('int tcgetattr(int fd, _Out_ uint8_t *termios)'),
  tcsetattr: libc.func('int tcsetattr(int fd, int actions, const uint8_t *termios)'),
  cfmakeraw: libc.func('void cfmakeraw(_Inout_ uint8_t *termios)'),
};

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;
const TCSANOW = 0;
const TERMIOS_SIZE = 64; // glibc's struct termios is 60 bytes on Linux; a little slack

/** Opens a pty slave without making it our controlling terminal. */
export function openSlave(path: string): number {
  const fd = c.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC) as number;
  if (fd < 0) throw new SysError('open', koffi.errno(), path);
  return fd;
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
  if ((c.tcgetattr(fd, t) as number) < 0) throw new SysError('tcgetattr', koffi.errno(), path);
  c.cfmakeraw(t);
  if ((c.tcsetattr(fd, TCSANOW, t) as number) < 0) throw new SysError('tcsetattr', koffi.errno(), path);
}
