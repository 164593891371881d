// A small cgroup file read with the fewest system calls: open, one read, close. readFileSync
// adds an fstat and a second read for the end of file, and a system call is dear on this host
// (a PVM guest: ~1 µs a null one, ~7 µs an open, read and close of a cgroup file), where a
// start's cgroup work is mostly such calls in skiffd. Whole only for files under 4 KiB, which a
// seq_file gives in one read: the counters and limits read here; of a cgroup.procs, whether it
// is empty.
import { closeSync, openSync, readSync } from 'node:fs';

const buf = Buffer.alloc(4096);

/** The file's text (its first 4 KiB), or null if it cannot be opened or read (the cgroup is gone). */
export function readCgroupFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, null));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
