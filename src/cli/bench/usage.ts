// What a benchmark row cost in CPU, from the kernel's counters (/proc), split the way the
// issue asks for it: skiff's own processes (skiffd with its forwarder threads, the launcher
// workers and the short-lived children they reap), the containers' PID 1s (reaped by skiffd,
// the child subreaper: their set-up before exec and /bin/true itself), a reference runtime's
// whole process tree (the bash loop's reaped descendants), and the whole machine
// (/proc/stat, kernel threads included: a network namespace's teardown runs in a kworker).
//
// The machine figure is the only one that sees the kernel's deferred work, and also the only
// one that sees everyone else's load on a shared machine: it is printed beside the others,
// never instead of them.
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { childPids, cmdline, procStat } from '../../sys/proc.js';
import { CLOCK_TICKS } from '../../sys/constants.js';

/** CPU seconds spent by every CPU of the machine outside idle and iowait, since boot. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

/** CPU seconds of this process's reaped children (the reference loops), from /proc/self/stat. */
export function reapedChildrenSeconds(): number {
  const st = procStat('self');
  if (st === null) throw new Error('bench: cannot read /proc/self/stat');
  return st.cutime + st.cstime;
}

export interface SkiffCpu {
  /** skiffd's own process: the main thread, libuv's pool and the forwarder threads */
  skiffd: number;
  /** the launcher workers and the children they reaped (launch.c's first child) */
  launchers: number;
  /** what skiffd reaped: the containers' PID 1s, from their first plan operation to their exit */
  containers: number;
}

/**
 * skiffd's pid, from the socket it answers on: the configured path is a symlink to
 * `<state>/.skiffd/api.sock`, beside the lock file that holds skiffd's pid.
 */
export function skiffdPid(socket: string): number {
  const lock = join(dirname(realpathSync(socket)), 'lock');
  const text = readFileSync(lock, 'utf8').trim();
  if (!/^\d+$/.test(text)) throw new Error(`bench: \`${lock}\` holds ${JSON.stringify(text)}, not skiffd's pid`);
  return Number(text);
}

/**
 * skiff's processes' CPU so far. Launchers are found anew each time (a replaced one's time is
 * then in skiffd's reaped children, counted as containers: rare, and visible as a failed start).
 */
export function skiffCpu(pid: number): SkiffCpu {
  const d = procStat(pid);
  if (d === null) throw new Error(`bench: skiffd (pid ${pid}) is gone`);
  let launchers = 0;
  for (const child of childPids(pid)) {
    if (!(cmdline(child) ?? '').startsWith('skiff-launcher')) continue;
    const st = procStat(child);
    if (st) launchers += st.utime + st.stime + st.cutime + st.cstime;
  }
  return { skiffd: d.utime + d.stime, launchers, containers: d.cutime + d.cstime };
}

export function minus(a: SkiffCpu, b: SkiffCpu): SkiffCpu {
  return { skiffd: a.skiffd - b.skiffd, launchers: a.launchers - b.launchers, containers: a.containers - b.containers };
}
