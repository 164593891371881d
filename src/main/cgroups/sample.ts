// A container cgroup's counters, read for `stats` (src/main/docker/stats.ts turns them into
// Docker's shape): memory, CPU time, tasks, from whichever hierarchies the container joined.
import { readFileSync } from 'node:fs';

export interface CgroupSample {
  memoryUsage: number | null;
  memoryMaxUsage: number | null;
  /** null: unlimited (v2 "max") */
  memoryLimit: number | null;
  memoryStat: Record<string, number>;
  cpuUsageNs: number | null;
  cpuUserNs: number | null;
  cpuSystemNs: number | null;
  perCpuNs: number[];
  pids: number | null;
  pidsLimit: number | null;
}

/** The container's directories to read: null where it did not join (or the host lacks) the hierarchy. */
export interface SampleDirs {
  /** v1's memory files (memory.usage_in_bytes…), or v2's (memory.current…) */
  memoryV1: boolean;
  memory: string | null;
  /** its v1 cpuacct directory (null: not joined, or none) */
  cpuacct: string | null;
  /** else a cgroup2 directory of its, whose cpu.stat counts its CPU time (v2, or a hybrid host's unified hierarchy) */
  cpuStat: string | null;
  pids: string | null;
  /** without pids: a file listing its tasks, one a line (v2 cgroup.threads, v1 tasks) */
  tasks: string | null;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function keyed(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) m.set(k, Number(v));
  }
  return m;
}

const num = (text: string): number | null => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : null);

export function readSample(d: SampleDirs): CgroupSample {
  const s: CgroupSample = { memoryUsage: null, memoryMaxUsage: null, memoryLimit: null, memoryStat: {}, cpuUsageNs: null, cpuUserNs: null, cpuSystemNs: null, perCpuNs: [], pids: null, pidsLimit: null };
  if (d.memory !== null) {
    const [usage, max, limit] = d.memoryV1 ? ['memory.usage_in_bytes', 'memory.max_usage_in_bytes', 'memory.limit_in_bytes'] : ['memory.current', 'memory.peak', 'memory.max'];
    s.memoryUsage = num(readOr(`${d.memory}/${usage}`, ''));
    s.memoryMaxUsage = num(readOr(`${d.memory}/${max}`, ''));
    s.memoryLimit = num(readOr(`${d.memory}/${limit}`, ''));
    s.memoryStat = Object.fromEntries(keyed(readOr(`${d.memory}/memory.stat`, '')));
  }
  if (d.cpuacct !== null) {
    s.cpuUsageNs = num(readOr(`${d.cpuacct}/cpuacct.usage`, ''));
    s.perCpuNs = readOr(`${d.cpuacct}/cpuacct.usage_percpu`, '').trim().split(/\s+/).filter(Boolean).map(Number);
    const st = keyed(readOr(`${d.cpuacct}/cpuacct.stat`, ''));
    // USER_HZ ticks (100 a second on Linux) to nanoseconds
    if (st.has('user')) s.cpuUserNs = st.get('user')! * 10_000_000;
    if (st.has('system')) s.cpuSystemNs = st.get('system')! * 10_000_000;
  } else if (d.cpuStat !== null) {
    const st = keyed(readOr(`${d.cpuStat}/cpu.stat`, ''));
    if (st.has('usage_usec')) s.cpuUsageNs = st.get('usage_usec')! * 1000;
    if (st.has('user_usec')) s.cpuUserNs = st.get('user_usec')! * 1000;
    if (st.has('system_usec')) s.cpuSystemNs = st.get('system_usec')! * 1000;
  }
  if (d.pids !== null) {
    s.pids = num(readOr(`${d.pids}/pids.current`, ''));
    s.pidsLimit = num(readOr(`${d.pids}/pids.max`, ''));
  } else if (d.tasks !== null) {
    s.pids = readOr(d.tasks, '').split('\n').filter(Boolean).length;
  }
  return s;
}
