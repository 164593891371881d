// skiff bench [--count N] [--concurrency C] [--warmup W] [--vs unshare,bwrap,crun,runc]
// [--lifecycle rm|full|start] [--serial N] [--json]: the options; the benchmark itself (bench.ts)
// is loaded only when it runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import { act, integerOption, type Declared, type Outcome } from '../command.js';
import type { ExternalRuntime } from './external.js';
import type { Lifecycle } from './through-api.js';

const REFERENCES: readonly ExternalRuntime[] = ['unshare', 'bwrap', 'crun', 'runc'];

function runtimes(value: string): ExternalRuntime[] {
  const list = value.split(',').filter(Boolean);
  for (const r of list) {
    if (!REFERENCES.includes(r as ExternalRuntime)) throw new InvalidArgumentError(`Expected some of ${REFERENCES.join(', ')}, got ${JSON.stringify(r)}`);
  }
  return list as ExternalRuntime[];
}

interface BenchValues { count: number; concurrency: number; warmup: number; vs: ExternalRuntime[]; lifecycle: Lifecycle; serial: number; json?: boolean }

export function benchCommand(o: Outcome): Declared {
  const cmd = new Command('bench')
    .addOption(integerOption('--count <N>', 'containers per row', 1).default(1000))
    .addOption(integerOption('--concurrency <C>', 'containers in flight at once, for skiff and every reference', 1).default(4))
    .addOption(integerOption('--warmup <W>', 'containers run first for each row and not counted', 0).default(20))
    .addOption(new Option('--vs <RUNTIMES>', `also time these on the same rootfs, in the same run (comma-separated: ${REFERENCES.join(', ')})`).argParser(runtimes).default([]))
    .addOption(new Option('--lifecycle <WHAT>', 'the whole lifecycle (what `runc run` does) as rm: `docker run --rm`\'s 3 requests (create with AutoRemove, wait for the removal, start) or full: 4 requests (create, start, wait for the exit, DELETE); start: create and start only').choices(['rm', 'full', 'start']).default('rm'))
    .addOption(integerOption('--serial <N>', 'also time N containers one at a time, of skiff (create+start and full) and each reference (0: no)', 0).default(100))
    .option('--json', 'print JSON instead of a table');
  act(cmd, o, async (v: BenchValues) => {
    const { bench } = await import('./bench.js');
    return bench({ count: v.count, concurrency: v.concurrency, vs: v.vs, json: v.json ?? false, warmup: v.warmup, lifecycle: v.lifecycle, serial: v.serial });
  });
  return {
    cmd,
    summary: 'run N containers of /bin/true through skiffd\'s API beside unshare, bwrap, crun and runc; containers/s, latency and CPU',
    examples: ['skiff bench --count 1000 --concurrency 4 --vs unshare,crun,runc,bwrap', 'skiff bench --lifecycle start --serial 0'],
  };
}
