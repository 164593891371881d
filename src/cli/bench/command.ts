// skiff bench [--count N] [--concurrency C] [--warmup W] [--vs runc,crun] [--json]: the options;
// the benchmark itself (bench.ts) is loaded only when it runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import { act, integerOption, type Declared, type Outcome } from '../command.js';

type Runtime = 'runc' | 'crun';

function runtimes(value: string): Runtime[] {
  const list = value.split(',').filter(Boolean);
  for (const r of list) if (r !== 'runc' && r !== 'crun') throw new InvalidArgumentError(`Expected runc and/or crun, got ${JSON.stringify(r)}`);
  return list as Runtime[];
}

interface BenchValues { count: number; concurrency: number; warmup: number; vs: Runtime[]; json?: boolean }

export function benchCommand(o: Outcome): Declared {
  const cmd = new Command('bench')
    .addOption(integerOption('--count <N>', 'containers to start', 1).default(1000))
    .addOption(integerOption('--concurrency <C>', 'requests in flight at once', 1).default(8))
    .addOption(integerOption('--warmup <W>', 'containers started first and not counted', 0).default(20))
    .addOption(new Option('--vs <RUNTIMES>', 'also time runc and/or crun on the same bundle (comma-separated)').argParser(runtimes).default([]))
    .option('--json', 'print JSON instead of a table');
  act(cmd, o, async (v: BenchValues) => {
    const { bench } = await import('./bench.js');
    return bench({ count: v.count, concurrency: v.concurrency, vs: v.vs, json: v.json ?? false, warmup: v.warmup });
  });
  return {
    cmd,
    summary: 'start N containers of /bin/true through skiffd\'s API and report containers/s and latency',
    examples: ['skiff bench --count 1000 --concurrency 8 --vs runc,crun'],
  };
}
