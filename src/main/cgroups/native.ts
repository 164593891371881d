// The two cgroupfs operations of skiffd that are cheaper as one call into launch.c than as
// Node's fs calls. A single call costs the same either way (measured here, a KVM guest, hot
// loops of 3000: a v1 rename 13 µs, an open, read and close 14, a write 10–12.5, a unified mkdir
// and rmdir 35–37: the kernel's work, not the binding), so a plain mkdir, rmdir, rename or write
// stays Node's. What is cheaper here: a spare kept at an exit in one call (its emptiness check,
// a memory cgroup's usage read, peak and fail-count reset, and the rename: skiff_cg_keep) where
// it was five Node calls with their argument checks; and a small file read (skiff_cg_read) that
// builds no Error (with its stack) for a file that is gone. Errors carry the call, the path and
// the errno (SysError).
import koffi from 'koffi';
import { LIBRARY_PATH } from '../../native/launch.js';
import { SysError } from '../../sys/errno.js';

let fns: {
  read: (path: string, buf: Buffer, len: number) => number;
  keep: (dir: string, spare: string, maxUsage: number, leftover: number) => number;
} | undefined;

function lib(): NonNullable<typeof fns> {
  if (fns) return fns;
  const l = koffi.load(LIBRARY_PATH);
  fns = {
    read: l.func('int skiff_cg_read(const char *path, _Out_ uint8_t *buf, int len)') as never,
    keep: l.func('int skiff_cg_keep(const char *dir, const char *spare, long long max_usage, long long leftover)') as never,
  };
  return fns;
}

function check(syscall: string, r: number, path: string): void {
  if (r < 0) throw new SysError(syscall, -r, path);
}

const buf = Buffer.alloc(4096);

/** A small cgroup file's text (its first 4 KiB, one read), or null if it cannot be opened or read (the cgroup is gone). */
export function cgRead(path: string): string | null {
  const n = lib().read(path, buf, buf.length);
  return n < 0 ? null : buf.toString('utf8', 0, n);
}

/** How cgKeep went: renamed (kept), or not, and why (the caller removes it). */
export const KEEP = { renamed: 0, notEmpty: 1, tooMuch: 2 } as const;

/**
 * Keeps an emptied container cgroup `dir` as `spare` in one call (launch.c skiff_cg_keep): its
 * cgroup.procs empty, and with `memory` a v1 memory cgroup's usage at most `memory.maxUsage`
 * (reclaimed by memory.force_empty above `memory.leftover`; its peak and fail count zeroed),
 * then renamed. Throws SysError for a call the kernel refused (then nothing was renamed).
 */
export function cgKeep(dir: string, spare: string, memory: { maxUsage: number; leftover: number } | null): number {
  const r = lib().keep(dir, spare, memory?.maxUsage ?? -1, memory?.leftover ?? 0);
  check('keep', r, dir);
  return r;
}
