// The start benchmark: N containers running /bin/true, through skiff's real worker path (forked
// launcher workers speaking src/workers/protocol.ts, PID 1s reaped by this process as the child
// subreaper), side by side in the same run with `runc run`, `crun run` and the reference
// `unshare --fork --pid --mount --uts --ipc --net --mount-proc /bin/true`, each at the same
// concurrencies. A container counts once it has exited: latency is request → exit seen, for
// every runtime alike, and throughput is containers completed per second of wall time.
//
//   node dist/bench/start.js [--count N] [--concurrency 1,2,4] [--runtimes skiff,runc,crun,unshare]
//                            [--warmup W] [--json]
//
// runc, crun and unshare run from bash loops timed by bash itself (see runExternal); crun's loop
// runs inside `unshare -m` with /sys/fs/cgroup/unified unmounted, which crun needs on this
// machine's hybrid cgroup layout, and that set-up is outside the timed part.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reaper } from '../src/main/lifecycle/reaper.js';
import { RUSAGE_CHILDREN, RUSAGE_SELF, cpuTime } from '../src/sys/rusage.js';
import { validateSpec, type ContainerSpec } from '../src/spec/container.js';
import type { FromLauncher, ToLauncher } from '../src/workers/protocol.js';
import type { StartRequest } from '../src/workers/start.js';
import { buildRootfs, writeOciBundle } from '../src/cli/bench/bundle.js';
import { runExternalWithWarmup, type ExternalPlan, type Sample } from '../src/cli/bench/external.js';

type Runtime = 'skiff' | 'runc' | 'crun' | 'unshare';
const RUNTIMES: Runtime[] = ['skiff', 'runc', 'crun', 'unshare'];

interface Options {
  count: number;
  concurrency: number[];
  runtimes: Runtime[];
  warmup: number;
  json: boolean;
}


/** CPU seconds spent so far by this process and every descendant reaped so far. */
function treeCpuSeconds(): number {
  const self = cpuTime(RUSAGE_SELF);
  const children = cpuTime(RUSAGE_CHILDREN);
  return self.userSeconds + self.systemSeconds + children.userSeconds + children.systemSeconds;
}

interface Row {
  runtime: Runtime;
  concurrency: number;
  count: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU (user + system) of the whole process tree, per container: this process, launcher workers,
   *  containers, shells, runtimes; not kernel threads (e.g. network namespace clean-up), alike for all */
  cpuMsPerContainer: number;
  failed: number;
  firstError: string | null;
}

const here = dirname(fileURLToPath(import.meta.url));
/** sysconf(_SC_CLK_TCK): 100 on every Linux architecture skiff builds for */
const CLOCK_TICKS = 100;

function usage(message: string): never {
  process.stderr.write(`bench/start: ${message}\nusage: node dist/bench/start.js [--count N] [--concurrency 1,2,4] [--runtimes ${RUNTIMES.join(',')}] [--warmup W] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { count: 1000, concurrency: [1, 2, 4], runtimes: [...RUNTIMES], warmup: 20, json: false };
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

// ── skiff: launcher workers over IPC ──

function launcherPath(): string {
  for (const p of [join(here, '../src/workers/launcher.js'), join(here, '../dist/src/workers/launcher.js')]) {
    if (existsSync(p)) return p;
  }
  throw new Error('bench: the launcher worker is not built; run `npm run build`');
}

class Worker {
  private readonly child: ChildProcess;
  readonly ready: Promise<void>;
  private pending = new Map<number, { resolve: (pid: number) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(index: number) {
    this.child = fork(launcherPath(), [], {
      env: { ...process.env, SKIFF_LAUNCHER_INDEX: String(index) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    let ready!: () => void;
    this.ready = new Promise((r) => { ready = r; });
    this.child.on('message', (m: FromLauncher) => {
      switch (m.type) {
        case 'ready': ready(); return;
        case 'started': this.settle(m.id, (p) => p.resolve(m.pid)); return;
        case 'failed': this.settle(m.id, (p) => p.reject(new Error(m.failure.message))); return;
      }
    });
    this.child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`launcher worker ${index} died: ${signal ?? code}`));
      this.pending.clear();
    });
  }

  private settle(id: number, f: (p: { resolve: (pid: number) => void; reject: (e: Error) => void }) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    f(p);
  }

  /** CPU seconds this worker and its reaped children have used so far (/proc/<pid>/stat, in clock ticks). */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i]), 0); // utime stime cutime cstime
    return ticks / CLOCK_TICKS;
  }

  start(request: StartRequest): Promise<number> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: ToLauncher = { type: 'start', id, request };
      this.child.send(msg);
    });
  }

  /** Lets the worker exit (it exits when its channel closes) and waits until it has been reaped. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }
}

/** A skiff row, and the CPU its workers spent starting Node (not a container's cost: left out). */
async function runSkiff(reaper: Reaper, spec: ContainerSpec, rootMount: string, count: number, warmup: number, concurrency: number): Promise<Sample & { startupCpuSeconds: number }> {
  const workers = Array.from({ length: concurrency }, (_, i) => new Worker(i));
  await Promise.all(workers.map((w) => w.ready));
  const startupCpuSeconds = workers.reduce((sum, w) => sum + w.cpuSeconds(), 0);
  const request: StartRequest = { spec, rootMount, layerDir: null, console: { kind: 'null' } };
  const one = async (slot: number): Promise<void> => {
    const pid = await workers[slot]!.start(request);
    const exit = await reaper.watch(pid).exited;
    if (exit.exitCode !== 0) throw new Error(`container exited with ${exit.exitCode}`);
  };
  try {
    await drive(warmup, concurrency, one);
    return { ...(await drive(count, concurrency, one)), startupCpuSeconds };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

// ── report ──

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function toRow(runtime: Runtime, concurrency: number, s: Sample, cpuMsPerContainer: number): Row {
  const sorted = [...s.latenciesMs].sort((a, b) => a - b);
  return {
    runtime, concurrency, count: s.latenciesMs.length, seconds: s.wallMs / 1000,
    perSecond: s.latenciesMs.length / (s.wallMs / 1000), p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99),
    cpuMsPerContainer, failed: s.failed, firstError: s.firstError,
  };
}

function ratios(rows: Row[], concurrency: number[]): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  for (const other of ['runc', 'crun', 'unshare'] as const) {
    const r: Record<string, number | null> = {};
    for (const c of concurrency) {
      const skiff = rows.find((x) => x.runtime === 'skiff' && x.concurrency === c);
      const them = rows.find((x) => x.runtime === other && x.concurrency === c);
      r[String(c)] = skiff && them && them.perSecond > 0 ? skiff.perSecond / them.perSecond : null;
    }
    if (Object.values(r).some((v) => v !== null)) out[`skiff/${other}`] = r;
  }
  return out;
}

function printTable(o: Options, rows: Row[]): void {
  const pad = (s: string, n: number): string => s.padStart(n);
  const lines = [
    `skiff start benchmark: ${o.count} containers of /bin/true per row (after ${o.warmup} warm-up), ${cpus().length} cores, kernel ${release()}, node ${process.version}`,
    'latency = request to exit seen; containers/s = completed / wall time; cpu = user+system of the whole process tree per container',
    '',
    `${'runtime'.padEnd(9)}${pad('conc', 5)}${pad('containers/s', 14)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('cpu ms/ctr', 12)}${pad('failed', 8)}`,
  ];
  for (const r of rows) {
    lines.push(`${r.runtime.padEnd(9)}${pad(String(r.concurrency), 5)}${pad(r.perSecond.toFixed(1), 14)}${pad(r.p50Ms.toFixed(2), 9)}${pad(r.p99Ms.toFixed(2), 9)}${pad(r.cpuMsPerContainer.toFixed(2), 12)}${pad(String(r.failed), 8)}`);
  }
  const rat = ratios(rows, o.concurrency);
  if (Object.keys(rat).length > 0) {
    lines.push('', `${'ratio (containers/s)'.padEnd(22)}${o.concurrency.map((c) => pad(`conc ${c}`, 9)).join('')}`);
    for (const [name, byC] of Object.entries(rat)) {
      lines.push(`${name.padEnd(22)}${o.concurrency.map((c) => pad(byC[String(c)] == null ? '-' : `${byC[String(c)]!.toFixed(2)}x`, 9)).join('')}`);
    }
  }
  const errors = rows.filter((r) => r.firstError);
  for (const r of errors) lines.push(`${r.runtime} at concurrency ${r.concurrency}: ${r.failed} failed, first: ${r.firstError}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function available(cmd: string): boolean {
  return process.env.PATH!.split(':').some((d) => existsSync(join(d, cmd)));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage('needs root (namespaces, mounts)');
  const runtimes = o.runtimes.filter((r) => {
    if (r === 'skiff' || available(r)) return true;
    process.stderr.write(`bench/start: ${r} is not installed; skipping it\n`);
    return false;
  });
  const reaper = new Reaper();
  const work = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  const rows: Row[] = [];
  try {
    const rootfs = buildRootfs(join(work, 'rootfs'));
    const rootMount = mkdtempSync(join(work, 'mnt-'));
    const bundle = runtimes.includes('runc') || runtimes.includes('crun') ? writeOciBundle(join(work, 'bundle'), rootfs) : '';
    const spec = validateSpec({ name: 'bench', rootfs, command: ['/bin/true'] });
    for (const c of o.concurrency) {
      for (const r of runtimes) {
        process.stderr.write(`bench/start: ${r} at concurrency ${c}…\n`);
        let sample: Sample;
        let cpu0 = treeCpuSeconds();
        if (r === 'skiff') {
          const s = await runSkiff(reaper, spec, rootMount, o.count, o.warmup, c);
          cpu0 += s.startupCpuSeconds;
          sample = s;
        } else {
          const p: ExternalPlan = { runtime: r, count: o.count, concurrency: c, bundle, stateRoot: join(work, `${r}-state`), dir: join(work, `${r}-${c}`) };
          sample = await runExternalWithWarmup(p, o.warmup);
        }
        // the row's whole process tree, warm-up included (workers live through both), per container run
        const cpuMs = ((treeCpuSeconds() - cpu0) * 1000) / (o.count + o.warmup);
        rows.push(toRow(r, c, sample, cpuMs));
      }
    }
  } finally {
    reaper.close();
    rmSync(work, { recursive: true, force: true });
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify({
      count: o.count, warmup: o.warmup, cores: cpus().length, kernel: release(), node: process.version, rows, ratios: ratios(rows, o.concurrency),
    }, null, 2)}\n`);
  } else {
    printTable(o, rows);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
