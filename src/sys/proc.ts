// Readers of /proc/<pid>: what skiffd, the benchmarks and the tests learn about a process.
import { readdirSync, readFileSync } from 'node:fs';

/** The start time of a live process (not a zombie), or null: with the pid, it names one process for good. */
export function procStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name's closing parenthesis: state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/** The pids whose parent is `ppid`, from /proc/<pid>/status (processes that exit meanwhile are skipped). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) === ppid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}
