// Readers of /proc (proc(5)): what skiffd, the benchmarks and the tests learn about a process
// from the kernel, parsed in one place. Pure node:fs, no koffi. A process can exit between
// any two reads, so every reader of one process returns null when it is gone, and the
// readers that scan /proc skip whoever left meanwhile.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { CLOCK_TICKS } from './constants.js';

/** A pid, or 'self' for the calling process. */
export type ProcPid = number | 'self';

/** The fields of /proc/PID/stat skiff reads. CPU times are in seconds. */
export interface ProcStat {
  /** R, S, D, Z (zombie), X (dead), T… */
  state: string;
  ppid: number;
  /** user and system CPU of the process itself */
  utime: number;
  stime: number;
  /** user and system CPU of its terminated and waited-for children */
  cutime: number;
  cstime: number;
  /** clock ticks after boot at which the process started: with the pid, it names one process for good */
  startTime: number;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the process is gone (ENOENT, or ESRCH while it is being torn down)
  }
}

/** /proc/PID/stat, or null if the process is gone. */
export function procStat(pid: ProcPid): ProcStat | null {
  const text = readOrNull(`/proc/${pid}/stat`);
  if (text === null) return null;
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields are counted from
  // the last ')'. f[0] is field 3 (state) of proc(5); field N is f[N - 3].
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (field: number): number => Number(f[field - 3]);
  return {
    state: f[0]!, ppid: n(4),
    utime: n(14) / CLOCK_TICKS, stime: n(15) / CLOCK_TICKS, cutime: n(16) / CLOCK_TICKS, cstime: n(17) / CLOCK_TICKS,
    startTime: n(22),
  };
}

/** The start time of a live process (neither zombie nor dead), or null. */
export function liveStartTime(pid: number): number | null {
  const st = procStat(pid);
  return st === null || st.state === 'Z' || st.state === 'X' ? null : st.startTime;
}

/** Whether the process is a zombie (exited, not yet reaped). False when it is gone altogether. */
export function isZombie(pid: number): boolean {
  return procStat(pid)?.state === 'Z';
}

/** CPU seconds (user + system) of a process, and with `children` those of its reaped children too. */
export function cpuSeconds(pid: ProcPid, children: boolean): number | null {
  const st = procStat(pid);
  if (st === null) return null;
  return st.utime + st.stime + (children ? st.cutime + st.cstime : 0);
}

/** /proc/PID/status as name → value ("PPid" → "1", "CapEff" → "000001ffffffffff"), or null if gone. */
export function procStatus(pid: ProcPid): Map<string, string> | null {
  const text = readOrNull(`/proc/${pid}/status`);
  if (text === null) return null;
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** One field of /proc/PID/status, or null if the process is gone or has no such field. */
export function statusField(pid: ProcPid, name: string): string | null {
  return procStatus(pid)?.get(name) ?? null;
}

/** A "kB" field of /proc/PID/status (VmRSS, VmHWM…) in KiB, or null. */
export function statusKiB(pid: ProcPid, name: string): number | null {
  const m = /^(\d+) kB$/.exec(statusField(pid, name) ?? '');
  return m ? Number(m[1]) : null;
}

/** The command line with NULs as spaces ("" for a zombie or a kernel thread), or null if gone. */
export function cmdline(pid: ProcPid): string | null {
  const text = readOrNull(`/proc/${pid}/cmdline`);
  return text === null ? null : text.replace(/\0+$/, '').replace(/\0/g, ' ');
}

/** Every pid in /proc now. */
export function allPids(): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Pids whose parent is `parent` (zombies included), ascending, by a scan of /proc. */
export function childPids(parent: number): number[] {
  return allPids().filter((p) => procStat(p)?.ppid === parent).sort((a, b) => a - b);
}

/** The fds a process has open, as "fd -> target" sorted by fd number's text; [] if it is gone. */
export function fdTargets(pid: ProcPid): { fd: number; target: string }[] {
  const dir = `/proc/${pid}/fd`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.map((name) => {
    let target: string;
    try {
      target = readlinkSync(`${dir}/${name}`);
    } catch {
      target = '(closed while listing)'; // differs from the next look, which settles it
    }
    return { fd: Number(name), target };
  }).sort((a, b) => a.fd - b.fd);
}

/** How many fds a process has open (the listing's own fd included when pid is 'self'), or null if gone. */
export function fdCount(pid: ProcPid): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** /proc/PID/mountinfo's lines, or null if the process is gone. */
export function mountinfoLines(pid: ProcPid): string[] | null {
  return readOrNull(`/proc/${pid}/mountinfo`)?.trim().split('\n') ?? null;
}
