// A small cgroup file read with the fewest system calls: open, one read, close, in one native
// call (native.ts: launch.c's skiff_cg_read). readFileSync adds an fstat and a second read for
// the end of file, and builds an Error (with its stack) for a file that is gone; a start's
// cgroup work in skiffd is mostly such calls. Whole only for files under 4 KiB, which a seq_file
// gives in one read: the counters and limits read here; of a cgroup.procs, whether it is empty.
import { cgRead } from './native.js';

/** The file's text (its first 4 KiB), or null if it cannot be opened or read (the cgroup is gone). */
export function readCgroupFile(path: string): string | null {
  return cgRead(path);
}
