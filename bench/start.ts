// The start benchmark: N containers running /bin/true, through skiff's real worker path (skiffd's
// LauncherPool of forked launcher workers, PID 1s reaped by this process as the child
// subreaper), side by side in the same run with `runc run`, `crun run` and the reference
// `unshare --fork --pid --mount --uts --ipc --net --mount-proc /bin/true`, each at the same
// concurrencies. A container counts once it has exited: latency is request → exit seen, for
// every runtime alike, and throughput is containers completed per second of wall time.
//
//   node dist/bench/start.js [--count N] [--concurrency 1,2,4] [--runtimes skiff,runc,crun,unshare]
//                            [--warmup W] [--rounds R] [--json]
//
// --rounds R runs every row R times, the runtimes interleaved round after round (skiff, skiff-cg,
// runc, runc-cg, skiff, …) so that a shared machine's load swings alike over all of them, and
// prints, per concurrency, what limits add to a start: skiff-cg's CPU per container less skiff's
// and runc-cg's less runc's, each round's difference taken within the round, as the median and
// the range over the rounds. A single row's CPU swings by a millisecond on a loaded machine;
// only differences taken side by side resolve a fraction of one.
//
// skiff-bridge is skiff with each container on a bridge network (a veth made by the launch plan,
// eth0's address and route set before exec): the row beside skiff's is the cost of a network.
// It makes a bridge, so it refuses to run in the host's network namespace: run the bench in one
// of its own (ip netns add b; ip netns exec b npm run bench:start -- --runtimes skiff,skiff-bridge).
//
// runc, crun and unshare run from bash loops timed by bash itself (see runExternal); crun's loop
// runs inside `unshare -m` with /sys/fs/cgroup/unified unmounted, which crun needs on this
// machine's hybrid cgroup layout, and that set-up is outside the timed part.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LauncherPool } from '../src/main/lifecycle/launcher-pool.js';
import { Reaper } from '../src/main/lifecycle/reaper.js';
import { percentile } from '../src/api/stats.js';
import { cpuTime } from '../src/sys/rusage.js';
import { RUSAGE_CHILDREN, RUSAGE_SELF } from '../src/sys/constants.js';
import { cpuSeconds } from '../src/sys/proc.js';
import { validateSpec, type ContainerSpec } from '../src/spec/container.js';
import { validateResources } from '../src/spec/resources.js';
import { Cgroups } from '../src/main/cgroups/cgroups.js';
import { detectLayout } from '../src/main/cgroups/layout.js';
import { OomWatcher } from '../src/main/cgroups/oom-watch.js';
import { machineBusySeconds } from '../src/cli/bench/usage.js';
import type { StartRequest } from '../src/workers/start.js';
import type { NetAttachment } from '../src/net/container-plan.js';
import { ensureBridge } from '../src/net/bridge.js';
import { Ipv4, Subnet } from '../src/net/ipv4.js';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { buildRootfs, writeOciBundle } from '../src/cli/bench/bundle.js';
import { runExternalWithWarmup, type ExternalPlan, type Sample } from '../src/cli/bench/external.js';
import { runBench, stopPoint } from './stop.js';

// skiff-bridge: the same on a bridge network. skiff-cg and runc-cg: a cgroup per container and the
// same limits (LIMITS) in both.
type Runtime = 'skiff' | 'skiff-bridge' | 'skiff-cg' | 'runc' | 'runc-cg' | 'crun' | 'unshare' | 'unshare-ip' | 'unshare-veth';
const RUNTIMES: Runtime[] = ['skiff', 'skiff-bridge', 'skiff-cg', 'runc', 'runc-cg', 'crun', 'unshare', 'unshare-ip', 'unshare-veth'];
const LIMITS = { memory: 64 << 20, cpuQuota: 50_000, cpuPeriod: 100_000, pids: 100 };

interface Options {
  count: number;
  concurrency: number[];
  runtimes: Runtime[];
  warmup: number;
  rounds: number;
  json: boolean;
}


/** CPU seconds spent so far by this process and every descendant reaped so far. */
function treeCpuSeconds(): number {
  const self = cpuTime(RUSAGE_SELF);
  const children = cpuTime(RUSAGE_CHILDREN);
  return self.userSeconds + self.systemSeconds + children.userSeconds + children.systemSeconds;
}

function selfCpuSeconds(): number {
  const self = cpuTime(RUSAGE_SELF);
  return self.userSeconds + self.systemSeconds;
}

interface Row {
  runtime: Runtime;
  concurrency: number;
  /** 1-based, with --rounds */
  round: number;
  count: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU (user + system) of the whole process tree, per container: this process, launcher workers,
   *  containers, shells, runtimes; not kernel threads (e.g. network namespace clean-up), alike for all */
  cpuMsPerContainer: number;
  /** all CPUs' busy time per container (/proc/stat): the kernel's deferred work too (a memory cgroup's offlining runs in a kworker), and everyone else's load */
  machineCpuMsPerContainer: number;
  /** of cpuMsPerContainer, this process's own (the cgroup work, the reaper) */
  selfCpuMsPerContainer: number;
  failed: number;
  firstError: string | null;
}

function usage(message: string): never {
  process.stderr.write(`bench/start: ${message}\nusage: node dist/bench/start.js [--count N] [--concurrency 1,2,4] [--runtimes ${RUNTIMES.join(',')}] [--warmup W] [--rounds R] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { count: 1000, concurrency: [1, 2, 4], runtimes: [...RUNTIMES], warmup: 20, rounds: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`${a} needs a value`);
    const int = (s: string, what: string): number => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) usage(`${what} must be a non-negative integer, got ${JSON.stringify(s)}`);
      return n;
    };
    switch (a) {
      case '--count': o.count = int(value(), '--count'); break;
      case '--warmup': o.warmup = int(value(), '--warmup'); break;
      case '--rounds': o.rounds = int(value(), '--rounds'); break;
      case '--concurrency': o.concurrency = value().split(',').map((s) => int(s, '--concurrency')).filter((n) => n > 0); break;
      case '--runtimes': {
        const names = value().split(',');
        const bad = names.find((n) => !RUNTIMES.includes(n as Runtime));
        if (bad !== undefined) usage(`unknown runtime ${JSON.stringify(bad)} (known: ${RUNTIMES.join(', ')})`);
        o.runtimes = names as Runtime[];
        break;
      }
      case '--json': o.json = true; break;
      default: usage(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if (o.count === 0) usage('--count must be at least 1');
  if (o.rounds === 0) usage('--rounds must be at least 1');
  return o;
}

/** Runs `count` jobs with `concurrency` in flight; each job resolves with its latency or throws. */
async function drive(count: number, concurrency: number, job: (slot: number, i: number) => Promise<void>): Promise<Sample> {
  const latenciesMs: number[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, slot) => {
    while (next < count) {
      const i = next++;
      const a = performance.now();
      try {
        await job(slot, i);
        latenciesMs.push(performance.now() - a);
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  }));
  return { latenciesMs, wallMs: performance.now() - t0, failed, firstError };
}

// ── skiff: skiffd's own launcher pool ──

/** Generous: a start takes milliseconds; only a hung worker reaches this, and its start then fails. */
const START_TIMEOUT_MS = 60_000;

/** A skiff row, and the CPU its workers spent starting Node (not a container's cost: left out). */
async function runSkiff(reaper: Reaper, spec: ContainerSpec, rootMount: string, count: number, warmup: number, concurrency: number,
  extras: { net?: NetAttachment; cgroups?: Cgroups } = {}): Promise<Sample & { startupCpuSeconds: number }> {
  const { net, cgroups } = extras;
  const oom = cgroups ? new OomWatcher(reaper, cgroups.version) : null;
  // One worker per start in flight, as skiffd sizes its pool for its concurrency.
  const pool = new LauncherPool(concurrency, START_TIMEOUT_MS);
  try {
    await pool.ready();
    const startupCpuSeconds = pool.pids().reduce((sum, pid) => sum + (cpuSeconds(pid, true) ?? 0), 0);
    const request: StartRequest = { spec, rootMount, layerDir: null, console: { kind: 'null' } };
    let n = 0;
    const one = async (): Promise<void> => {
      // As skiffd does: the cgroup made before the launch, joined by PID 1, its live OOM watch
      // (a memory limit), emptied and removed after its exit.
      // (the watch its memory cgroup was kept with as a spare, else a new one).
      const cg = cgroups ? cgroups.create(cgroups.pathOf(`bench-${n}`, null), spec.resources) : null;
      const kept = cg ? cgroups!.takeOomWatch(cg) : null;
      kept?.reuse(() => undefined, cgroups!.oomBaseline(cg!));
      const watch = kept ?? (cg && oom && cgroups!.memoryLimited(cg.path, spec.resources) ? oom.watch(cgroups!.memoryDir(cg)!, () => undefined) : null);
      // A host end's name per start: a finished container's veth goes with its namespace, which the kernel frees later.
      const withNet = net ? { ...request, net: { ...net, hostIfname: `svbench${n}` } } : request;
      n++;
      const { pid } = await pool.start(cg ? { ...withNet, cgroupProcs: cgroups!.procsFiles(cg) } : withNet);
      const exit = await reaper.watch(pid).exited;
      const counted = watch?.count() ?? null;
      watch?.idle();
      if (cg) await cgroups!.finish(cg, counted, watch);
      else watch?.stop();
      if (exit.exitCode !== 0) throw new Error(`container exited with ${exit.exitCode}`);
    };
    await drive(warmup, concurrency, one);
    return { ...(await drive(count, concurrency, one)), startupCpuSeconds };
  } finally {
    oom?.close();
    // Reaped before the row's CPU is read: their time then counts in RUSAGE_CHILDREN.
    await pool.close();
  }
}

// ── report ──

function toRow(runtime: Runtime, concurrency: number, round: number, s: Sample, cpuMsPerContainer: number, machineCpuMsPerContainer: number, selfCpuMsPerContainer: number): Row {
  const sorted = [...s.latenciesMs].sort((a, b) => a - b);
  return {
    runtime, concurrency, round, count: s.latenciesMs.length, seconds: s.wallMs / 1000,
    perSecond: s.latenciesMs.length / (s.wallMs / 1000), p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99),
    cpuMsPerContainer, machineCpuMsPerContainer, selfCpuMsPerContainer, failed: s.failed, firstError: s.firstError,
  };
}

function ratios(rows: Row[], concurrency: number[]): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  for (const other of ['runc', 'runc-cg', 'crun', 'unshare'] as const) {
    const r: Record<string, number | null> = {};
    for (const c of concurrency) {
      const skiff = rows.find((x) => x.runtime === (other === 'runc-cg' ? 'skiff-cg' : 'skiff') && x.concurrency === c);
      const them = rows.find((x) => x.runtime === other && x.concurrency === c);
      r[String(c)] = skiff && them && them.perSecond > 0 ? skiff.perSecond / them.perSecond : null;
    }
    if (Object.values(r).some((v) => v !== null)) out[`${other === 'runc-cg' ? 'skiff-cg' : 'skiff'}/${other}`] = r;
  }
  return out;
}

/** What limits add to a start's CPU, per pair and concurrency: each round's difference (process tree, and this process alone), their median and range. */
interface Added {
  pair: string;
  concurrency: number;
  cpuMs: number[];
  selfMs: number[];
}

const LIMIT_PAIRS = [['skiff', 'skiff-cg'], ['runc', 'runc-cg']] as const;

function limitsAdd(rows: Row[], concurrency: number[]): Added[] {
  const out: Added[] = [];
  for (const [plain, limited] of LIMIT_PAIRS) {
    for (const c of concurrency) {
      const added: Added = { pair: `${limited} - ${plain}`, concurrency: c, cpuMs: [], selfMs: [] };
      for (const without of rows.filter((x) => x.runtime === plain && x.concurrency === c)) {
        const withLimits = rows.find((x) => x.runtime === limited && x.concurrency === c && x.round === without.round);
        if (!withLimits) continue;
        added.cpuMs.push(withLimits.cpuMsPerContainer - without.cpuMsPerContainer);
        added.selfMs.push(withLimits.selfCpuMsPerContainer - without.selfCpuMsPerContainer);
      }
      if (added.cpuMs.length > 0) out.push(added);
    }
  }
  return out;
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** `+1.23 (+0.80 … +1.90)`: the median and the range of a list of differences. */
function spread(values: number[]): string {
  const f = (n: number): string => `${n >= 0 ? '+' : ''}${n.toFixed(2)}`;
  return values.length === 1 ? f(values[0]!) : `${f(median(values))} (${f(Math.min(...values))} … ${f(Math.max(...values))})`;
}

function printTable(o: Options, rows: Row[]): void {
  const pad = (s: string, n: number): string => s.padStart(n);
  const lines = [
    `skiff start benchmark: ${o.count} containers of /bin/true per row (after ${o.warmup} warm-up), ${cpus().length} cores, kernel ${release()}, node ${process.version}`,
    'latency = request to exit seen; containers/s = completed / wall time; cpu = user+system of the whole process tree per container;',
    '  machine = all CPUs\' busy time per container (/proc/stat: kernel threads too, and everyone else\'s load on the machine);',
    '  self = of cpu, this process alone (for skiff rows: the cgroup work, the reaper, the launcher pool\'s side)',
    'skiff rows: skiffd\'s launcher workers driven directly (plan, launch, exit seen): no API, no record, no console, no removal;',
    '  the whole lifecycle through the API, beside the same references, is `skiff bench` (src/cli/bench)',
    '',
    `${'runtime'.padEnd(13)}${pad('conc', 5)}${o.rounds > 1 ? pad('round', 6) : ''}${pad('containers/s', 14)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('cpu ms/ctr', 12)}${pad('machine ms', 12)}${pad('self ms', 9)}${pad('failed', 8)}`,
  ];
  for (const r of rows) {
    lines.push(`${r.runtime.padEnd(13)}${pad(String(r.concurrency), 5)}${o.rounds > 1 ? pad(String(r.round), 6) : ''}${pad(r.perSecond.toFixed(1), 14)}${pad(r.p50Ms.toFixed(2), 9)}${pad(r.p99Ms.toFixed(2), 9)}${pad(r.cpuMsPerContainer.toFixed(2), 12)}${pad(r.machineCpuMsPerContainer.toFixed(2), 12)}${pad(r.selfCpuMsPerContainer.toFixed(2), 9)}${pad(String(r.failed), 8)}`);
  }
  const rat = ratios(rows, o.concurrency);
  if (Object.keys(rat).length > 0) {
    lines.push('', `${'ratio (containers/s)'.padEnd(22)}${o.concurrency.map((c) => pad(`conc ${c}`, 9)).join('')}`);
    for (const [name, byC] of Object.entries(rat)) {
      lines.push(`${name.padEnd(22)}${o.concurrency.map((c) => pad(byC[String(c)] == null ? '-' : `${byC[String(c)]!.toFixed(2)}x`, 9)).join('')}`);
    }
  }
  const added = limitsAdd(rows, o.concurrency);
  if (added.length > 0) {
    lines.push('', `limits add, CPU ms per container (${o.rounds > 1 ? `median and range of ${o.rounds} interleaved rounds` : 'one round'}; self = this process alone)`);
    for (const a of added) lines.push(`${a.pair.padEnd(20)}conc ${String(a.concurrency).padEnd(3)} cpu ${spread(a.cpuMs).padEnd(26)} self ${spread(a.selfMs)}`);
  }
  const errors = rows.filter((r) => r.firstError);
  for (const r of errors) lines.push(`${r.runtime} at concurrency ${r.concurrency}: ${r.failed} failed, first: ${r.firstError}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** The bridge network of the skiff-bridge rows: one bridge, every container the same address (they run /bin/true, alone on their veth). */
function benchNetwork(work: string): { spec: ContainerSpec; net: NetAttachment } {
  const subnet = Subnet.parse('198.18.200.0/24');
  const gateway = Ipv4.parse('198.18.200.1');
  const bridgeIndex = ensureBridge('skbench0', gateway, subnet);
  const hostsFile = join(work, 'hosts');
  const resolvFile = join(work, 'resolv.conf');
  writeFileSync(hostsFile, '127.0.0.1\tlocalhost\n198.18.200.2\tbench\n');
  writeFileSync(resolvFile, 'nameserver 198.18.200.1\n');
  return {
    spec: validateSpec({ name: 'bench', rootfs: join(work, 'rootfs'), command: ['/bin/true'], network: 'benchnet' }),
    net: { network: 'benchnet', bridge: 'skbench0', bridgeIndex, hostIfname: 'svbench', address: '198.18.200.2', prefix: 24, gateway: gateway.toString(), mac: Ipv4.parse('198.18.200.2').mac(), hostsFile, resolvFile },
  };
}

function available(cmd: string): boolean {
  return process.env.PATH!.split(':').some((d) => existsSync(join(d, cmd)));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage('needs root (namespaces, mounts)');
  // `ip netns identify` names the namespace this process is in when it is one of `ip netns`'s, and nothing for the host's.
  if (o.runtimes.includes('skiff-bridge') && spawnSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).stdout.trim() === '') {
    usage('skiff-bridge makes a bridge: run the bench in a network namespace of ip netns (ip netns add b; ip netns exec b …), never the host\'s');
  }
  const runtimes = o.runtimes.filter((r) => {
    if (r === 'skiff' || r === 'skiff-bridge' || r === 'skiff-cg' || available(r === 'runc-cg' ? 'runc' : r.startsWith('unshare') ? 'unshare' : r)) return true;
    process.stderr.write(`bench/start: ${r} is not installed; skipping it\n`);
    return false;
  });
  const reaper = new Reaper();
  const work = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  const rows: Row[] = [];
  let cgroups: Cgroups | null = null;
  try {
    const rootfs = buildRootfs(join(work, 'rootfs'));
    const rootMount = mkdtempSync(join(work, 'mnt-'));
    const bundle = runtimes.includes('runc') || runtimes.includes('crun') ? writeOciBundle(join(work, 'bundle'), rootfs) : '';
    const bundleCg = runtimes.includes('runc-cg') ? writeOciBundle(join(work, 'bundle-cg'), rootfs, LIMITS) : '';
    const spec = validateSpec({ name: 'bench', rootfs, command: ['/bin/true'] });
    const bridged = runtimes.includes('skiff-bridge') ? benchNetwork(work) : null;
    const limited = { ...spec, resources: validateResources({ memory: LIMITS.memory, cpuQuota: LIMITS.cpuQuota, cpuPeriod: LIMITS.cpuPeriod, pidsLimit: LIMITS.pids }) };
    cgroups = runtimes.includes('skiff-cg') ? new Cgroups(detectLayout(), `skiff-bench-${process.pid}`) : null;
    for (const c of o.concurrency) {
      for (let round = 1; round <= o.rounds; round++) for (const r of runtimes) {
        await stopPoint();
        process.stderr.write(`bench/start: ${r} at concurrency ${c}${o.rounds > 1 ? `, round ${round}` : ''}…\n`);
        let sample: Sample;
        let cpu0 = treeCpuSeconds();
        const self0 = selfCpuSeconds();
        const machine0 = machineBusySeconds();
        if (r === 'skiff' || r === 'skiff-bridge' || r === 'skiff-cg') {
          const s = r === 'skiff' ? await runSkiff(reaper, spec, rootMount, o.count, o.warmup, c)
            : r === 'skiff-bridge' ? await runSkiff(reaper, bridged!.spec, rootMount, o.count, o.warmup, c, { net: bridged!.net })
            : await runSkiff(reaper, limited, rootMount, o.count, o.warmup, c, { cgroups: cgroups! });
          cpu0 += s.startupCpuSeconds;
          sample = s;
        } else {
          const runtime = r === 'runc-cg' ? 'runc' : r;
          const p: ExternalPlan = { runtime, count: o.count, concurrency: c, bundle: r === 'runc-cg' ? bundleCg : bundle, stateRoot: join(work, `${r}-state`), dir: join(work, `${r}-${c}`) };
          sample = await runExternalWithWarmup(p, o.warmup);
        }
        // the row's whole process tree, warm-up included (workers live through both), per container run
        const cpuMs = ((treeCpuSeconds() - cpu0) * 1000) / (o.count + o.warmup);
        const machineMs = ((machineBusySeconds() - machine0) * 1000) / (o.count + o.warmup);
        const selfMs = ((selfCpuSeconds() - self0) * 1000) / (o.count + o.warmup);
        rows.push(toRow(r, c, round, sample, cpuMs, machineMs, selfMs));
      }
    }
  } finally {
    cgroups?.close();
    reaper.close();
    rmSync(work, { recursive: true, force: true });
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify({
      count: o.count, warmup: o.warmup, rounds: o.rounds, cores: cpus().length, kernel: release(), node: process.version, rows, ratios: ratios(rows, o.concurrency),
      limitsAdd: limitsAdd(rows, o.concurrency),
    }, null, 2)}\n`);
  } else {
    printTable(o, rows);
  }
}

runBench('bench/start', main);
