// File-system calls Node does not offer: device nodes and extended attributes, for the image
// unpacker (src/main/images/unpack.ts). Each failure is a SysError naming the call and the path.
import { c, check, lastErrno } from './libc-handle.js';
import { ENODATA, SysError } from './errno.js';

/** makedev(3) for the 64-bit dev_t of glibc on Linux. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** mknod(2): `mode` carries the type bits (S_IFCHR, S_IFBLK, S_IFIFO) and the permissions. */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(c.mknod(path, mode >>> 0, makedev(major, minor)), 'mknod', path);
}

/** lsetxattr(2): on the link itself, never on what a symlink points to. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  check(c.lsetxattr(path, name, value, value.length, 0), `lsetxattr ${name}`, path);
}

/** lgetxattr(2): the value, or null when the attribute is not set (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | null {
  const buf = Buffer.alloc(65536);
  const n = Number(c.lgetxattr(path, name, buf, buf.length));
  if (n >= 0) return buf.subarray(0, n);
  const errno = lastErrno();
  if (errno === ENODATA) return null;
  throw new SysError(`lgetxattr ${name}`, errno, path);
}
