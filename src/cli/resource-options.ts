// The resource options of `skiff run` (and `skiff update`): --memory, --memory-swap,
// --memory-reservation, --cpus, --cpu-shares, --pids-limit, --cpuset-cpus, checked here so a
// typo is a usage error quoting the value, and sent as Docker's HostConfig fields.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatBytes, MAX_CPU_SHARES, MIN_CPU_SHARES, MIN_MEMORY, parseBytes } from '../spec/resources.js';

export interface ResourceValues {
  memory?: number;
  memorySwap?: number;
  memoryReservation?: number;
  cpus?: number;
  cpuShares?: number;
  pidsLimit?: number;
  cpusetCpus?: string;
}

function size(min: number, allowUnlimited: boolean) {
  return (value: string): number => {
    if (allowUnlimited && value === '-1') return -1;
    const n = parseBytes(value);
    if (n === null) throw new InvalidArgumentError(`Expected a size such as 64m, 512k or 1g${allowUnlimited ? ' (or -1: unlimited)' : ''}`);
    if (n < min) throw new InvalidArgumentError(`Expected at least ${formatBytes(min)} (the smallest memory limit a container can start with)`);
    return n;
  };
}

function intIn(min: number, max: number, allowUnlimited = false) {
  return (value: string): number => {
    if (allowUnlimited && value === '-1') return -1;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}${allowUnlimited ? ' (or -1: unlimited)' : ''}`);
    return n;
  };
}

function cpus(value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(n >= 0.01)) throw new InvalidArgumentError('Expected a number of CPUs of at least 0.01, such as 0.5 or 2');
  return n;
}

function cpuList(value: string): string {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) throw new InvalidArgumentError('Expected CPU numbers such as 0-1 or 0,2');
  return value;
}

export function addResourceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-m, --memory <SIZE>', 'memory limit (e.g. 64m, 1g; at least 6m)').argParser(size(MIN_MEMORY, false)))
    .addOption(new Option('--memory-swap <SIZE>', 'memory plus swap limit (-1: unlimited swap; default twice --memory)').argParser(size(MIN_MEMORY, true)))
    .addOption(new Option('--memory-reservation <SIZE>', 'soft memory limit, reclaimed first under pressure').argParser(size(MIN_MEMORY, false)))
    .addOption(new Option('--cpus <N>', 'CPU limit in CPUs (e.g. 0.5: half of one CPU)').argParser(cpus))
    .addOption(new Option('--cpu-shares <N>', `relative CPU weight (${MIN_CPU_SHARES} to ${MAX_CPU_SHARES}, default 1024)`).argParser(intIn(MIN_CPU_SHARES, MAX_CPU_SHARES)))
    .addOption(new Option('--pids-limit <N>', 'most processes and threads at once (-1: unlimited)').argParser(intIn(1, 4_194_304, true)))
    .addOption(new Option('--cpuset-cpus <LIST>', 'CPUs it may run on (e.g. 0-1 or 0,2)').argParser(cpuList));
}

/** The Docker HostConfig (or update body) fields the options set; absent options are absent. */
export function resourceFields(v: ResourceValues): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  if (v.memory !== undefined) out.Memory = v.memory;
  if (v.memorySwap !== undefined) out.MemorySwap = v.memorySwap;
  if (v.memoryReservation !== undefined) out.MemoryReservation = v.memoryReservation;
  if (v.cpus !== undefined) out.NanoCpus = Math.round(v.cpus * 1e9);
  if (v.cpuShares !== undefined) out.CpuShares = v.cpuShares;
  if (v.pidsLimit !== undefined) out.PidsLimit = v.pidsLimit;
  if (v.cpusetCpus !== undefined) out.CpusetCpus = v.cpusetCpus;
  return out;
}
