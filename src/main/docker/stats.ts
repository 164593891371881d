// A container's cgroup counters in the JSON shape of Docker's GET /containers/{id}/stats, which
// `docker stats` reads: memory_stats, cpu_stats and precpu_stats (the CLI's CPU % is the
// change between the two against the host's), pids_stats. Pure but for reading /proc/stat.
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import type { CgroupSample } from '../cgroups/cgroups.js';

export interface StatsFrame {
  at: Date;
  sample: CgroupSample | null;
  /** the host's CPU time in nanoseconds (/proc/stat, as Docker's system_cpu_usage) */
  systemNs: number;
}

/** Every CPU's time of the host, in nanoseconds (clock ticks of 1/100 s). */
export function systemCpuNs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const ticks = line.split(/\s+/).slice(1, 8).reduce((a, t) => a + (Number(t) || 0), 0);
  return ticks * 10_000_000;
}

function cpuStats(f: StatsFrame | null): object {
  const s = f?.sample ?? null;
  return {
    cpu_usage: {
      total_usage: s?.cpuUsageNs ?? 0,
      ...(s && s.perCpuNs.length > 0 ? { percpu_usage: s.perCpuNs } : {}),
      usage_in_kernelmode: s?.cpuSystemNs ?? 0,
      usage_in_usermode: s?.cpuUserNs ?? 0,
    },
    ...(f ? { system_cpu_usage: f.systemNs, online_cpus: availableParallelism() } : {}),
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** One frame of Docker's stats stream; `pre` is the frame before it (null for the first). */
export function dockerStats(r: { id: string; name: string }, now: StatsFrame, pre: StatsFrame | null): object {
  const s = now.sample;
  // An unlimited cgroup reads as a huge number (v1) or none (v2): Docker shows the host's memory.
  const limit = s?.memoryLimit === null || s?.memoryLimit === undefined || s.memoryLimit > totalmem() ? totalmem() : s.memoryLimit;
  return {
    read: now.at.toISOString(),
    preread: pre ? pre.at.toISOString() : '0001-01-01T00:00:00Z',
    pids_stats: s?.pids === null || s?.pids === undefined ? {} : { current: s.pids, ...(s.pidsLimit !== null ? { limit: s.pidsLimit } : {}) },
    blkio_stats: {},
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(now),
    precpu_stats: cpuStats(pre),
    memory_stats: s === null ? {} : {
      usage: s.memoryUsage ?? 0,
      ...(s.memoryMaxUsage !== null ? { max_usage: s.memoryMaxUsage } : {}),
      stats: s.memoryStat,
      limit,
    },
    name: `/${r.name}`,
    id: r.id,
  };
}
