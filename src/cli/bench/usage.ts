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

/** A machine counts as quiet once all its CPUs together were busy less than this share of one core over a window. */
const QUIET_CORES = 0.05;
const QUIET_WINDOW_MS = 200;
/** How long a row waits for quiet at most: on a machine someone else keeps busy it never comes. */
const QUIET_WAIT_MS = 10_000;

/**
 * Waits until the machine is quiet (all CPUs busy less than QUIET_CORES of one core over
 * QUIET_WINDOW_MS), for at most QUIET_WAIT_MS; false if it did not get quiet. Why: a row's
 * deferred work (a network namespace's teardown runs in a kworker after the process is gone;
 * skiffd removes state directories after answering) would otherwise run during the next row
 * and be charged to the next runtime, which then looks slower than it is.
 */
export async function settleMachine(): Promise<boolean> {
  const deadline = Date.now() + QUIET_WAIT_MS;
  let last = machineBusySeconds();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS));
    const now = machineBusySeconds();
    if (now - last < (QUIET_CORES * QUIET_WINDOW_MS) / 1000) return true;
    if (Date.now() > deadline) return false;
    last = now;
  }
}

/** CPU seconds of this process's reaped children (the reference loops), from /proc/self/stat. */
export function reapedChildrenSeconds(): number {
  const st = procStat('self');
  if (st === null) throw new Error('bench: cannot read /proc/self/stat');
  return st.cutime + st.cstime;
}

export interface SkiffCpu {
  /** skiffd's own process: the main thread and libuv's pool */
  skiffd: number;
  /** the console keeper (`skiff-keeper`): its relay and forwarder threads (0 for a skiffd that runs them itself) */
  keeper: number;
  /** which keeper `keeper` is of (null: none) */
  keeperPid?: number | null;
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
  const pid = pidIn(lock);
  if (pid === null) throw new Error(`bench: \`${lock}\` holds no pid, where skiffd's should be`);
  return pid;
}

function pidIn(lock: string): number | null {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`bench: read \`${lock}\`: ${(err as Error).message}`, { cause: err });
  }
  return /^\d+$/.test(text) ? Number(text) : null;
}

/**
 * The keeper's pid, from its lock beside skiffd's (null: none, as with a skiffd that runs its
 * forwarder threads itself). Read at each sample: a keeper that ended between rows is not counted.
 */
export function keeperPid(socket: string): number | null {
  const pid = pidIn(join(dirname(realpathSync(socket)), 'keeper.lock'));
  return pid !== null && (cmdline(pid) ?? '').startsWith('skiff-keeper') ? pid : null;
}

/**
 * skiff's processes' CPU so far. Launchers are found anew each time (a replaced one's time is
 * then in skiffd's reaped children, counted as containers: rare, and visible as a failed start).
 */
export function skiffCpu(pid: number, keeper: number | null): SkiffCpu {
  const d = procStat(pid);
  if (d === null) throw new Error(`bench: skiffd (pid ${pid}) is gone`);
  let launchers = 0;
  for (const child of childPids(pid)) {
    if (!(cmdline(child) ?? '').startsWith('skiff-launcher')) continue;
    const st = procStat(child);
    if (st) launchers += st.utime + st.stime + st.cutime + st.cstime;
  }
  const k = keeper === null ? null : procStat(keeper);
  return { skiffd: d.utime + d.stime, keeper: k ? k.utime + k.stime : 0, keeperPid: k ? keeper : null, launchers, containers: d.cutime + d.cstime };
}

/** a − b; a keeper that started between the two samples counts whole. */
export function minus(a: SkiffCpu, b: SkiffCpu): SkiffCpu {
  const keeper = a.keeperPid === b.keeperPid ? a.keeper - b.keeper : a.keeper;
  return { skiffd: a.skiffd - b.skiffd, keeper, launchers: a.launchers - b.launchers, containers: a.containers - b.containers };
}
