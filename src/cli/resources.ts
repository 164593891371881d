// skiff update (new limits for a container, running or not) and skiff stats (one reading of
// every running container's cgroup: CPU %, memory, processes), each a thin turn of its
// arguments into API calls: POST /containers/{id}/update, GET /containers/{id}/stats.
import { Command } from 'commander';
import { call } from './client.js';
import { act, UsageError, type Declared, type Outcome } from './command.js';
import { addResourceOptions, resourceFields, type ResourceValues } from './resource-options.js';
import { formatTable } from './table.js';

const enc = encodeURIComponent;

function update(o: Outcome): Declared {
  const cmd = addResourceOptions(new Command('update').argument('<NAME...>', 'containers, by name or id'));
  act(cmd, o, async (names: string[], values: ResourceValues) => {
    const body = resourceFields(values);
    if (Object.keys(body).length === 0) throw new UsageError('update needs at least one limit, such as --memory 128m or --cpus 1');
    for (const name of names) {
      await call('POST', `/containers/${enc(name)}/update`, body);
      process.stdout.write(`${name}\n`);
    }
    return 0;
  });
  return { cmd, summary: 'change a container\'s limits, at once if it runs', examples: ['skiff update --memory 256m --cpus 1.5 web'] };
}

interface Stats {
  name: string;
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number };
  pids_stats: { current?: number };
}

function mib(n: number | undefined): string {
  return n === undefined ? '-' : `${(n / (1 << 20)).toFixed(1)}MiB`;
}

/** Docker's CPU %: the container's CPU time over the host's, in the same second, times the CPUs. */
function cpuPercent(s: Stats): string {
  const cpu = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const system = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  if (system <= 0 || cpu < 0) return '-';
  return `${((cpu / system) * (s.cpu_stats.online_cpus ?? 1) * 100).toFixed(2)}%`;
}

function stats(o: Outcome): Declared {
  const cmd = new Command('stats').argument('[NAME...]', 'containers (default: every running one)');
  act(cmd, o, async (names: string[]) => {
    const list = names.length > 0 ? names
      : ((await call('GET', '/containers/json')).body as { Names: string[] }[]).map((c) => c.Names[0]!.slice(1));
    const all = await Promise.all(list.map(async (n) => (await call('GET', `/containers/${enc(n)}/stats?stream=false`)).body as Stats));
    const rows = all.map((s) => [s.name.replace(/^\//, ''), cpuPercent(s), `${mib(s.memory_stats.usage)} / ${mib(s.memory_stats.limit)}`, String(s.pids_stats.current ?? '-')]);
    process.stdout.write(formatTable(['NAME', 'CPU %', 'MEM USAGE / LIMIT', 'PIDS'], rows));
    return 0;
  });
  return { cmd, summary: 'one reading of running containers\' CPU, memory and processes (from their cgroups)', examples: ['skiff stats', 'skiff stats web'] };
}

export function resourceCommands(o: Outcome): Declared[] {
  return [update(o), stats(o)];
}
