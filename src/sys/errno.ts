// errno numbers ↔ names, and the one error type every syscall failure becomes. Pure (no koffi):
// the one errno table of src/ and bench/.
import { constants } from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}

/**
 * The errno numbers skiff's own code tests for, from Node's table of this platform's values:
 * never written as literals elsewhere (`n === -EAGAIN`, not `n === -11`).
 */
export const {
  EPERM, ENOENT, EINTR, EIO, EAGAIN, EWOULDBLOCK, EACCES, ENOTDIR, EINVAL, EPIPE, ENOSYS, ENODATA,
} = constants.errno;

/** "ENOENT" for 2; "errno 999" for numbers this platform does not name. */
export function errnoName(errno: number): string {
  return names.get(errno) ?? `errno ${errno}`;
}

/** The number for a name such as "EPERM"; throws on an unknown name. */
export function errnoNumber(name: string): number {
  const value = (constants.errno as Record<string, number>)[name];
  if (value === undefined) throw new Error(`unknown errno name ${name}`);
  return value;
}

/**
 * A failed system call: which call, on which path (if any), and the errno kept
 * as a number. Reads like "open `/dev/ptmx`: ENOENT".
 */
export class SysError extends Error {
  readonly syscall: string;
  readonly path: string | undefined;
  readonly errno: number;
  readonly code: string;

  constructor(syscall: string, errno: number, path?: string, options?: ErrorOptions) {
    const where = path === undefined ? '' : ` \`${path}\``;
    super(`${syscall}${where}: ${errnoName(errno)}`, options);
    this.name = 'SysError';
    this.syscall = syscall;
    this.path = path;
    this.errno = errno;
    this.code = errnoName(errno);
  }
}
