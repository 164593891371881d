// The fleet benchmark: a skiffd of its own (temp socket and state dir), and in one run:
//   1. skiff's full-lifecycle rate: `skiff bench --count B --concurrency 4 --serial 0` against
//      that skiffd (create, start, wait for the exit, remove, through the API), and the bound
//      it sets for a fleet: N / rate + 1 s;
//   2. `skiff fleet up FILE` of N `sleep infinity` replicas, timed as a user times it (the CLI
//      process from spawn to exit), beside the moment the last one ran (skiffd's events), the
//      CPU skiffd and its launchers spent, and skiffd's memory per container;
//   3. the same `skiff fleet up FILE` again, which has nothing to do, R times (the median and
//      the fastest), beside `node -e 0` R times: Node's own start-up, which every CLI run pays;
//   4. DELETE /fleets/{name} (`skiff fleet down`).
// Every figure is from the same minutes of the same machine: on a loaded machine only their
// ratios mean much, so the load average is printed before and after.
//
//   node dist/bench/fleet.js [--count N] [--bench-count B] [--noop-runs R] [--launchers L] [--profile DIR] [--json]
//
// --profile writes skiffd's CPU profile (node --cpu-prof) into DIR when it exits.
//
// Targets (issue #16): the up within the bound; the no-op within 0.3 s. A 20-container warm-up
// fleet comes and goes first, so that the memory measured is per container, not skiffd's
// first-use costs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open, request } from '../src/api/http-client.js';
import { childPids, cmdline, cpuSeconds, statusKiB } from '../src/sys/proc.js';
import { positiveIntArg } from './args.js';
import { endChild, removeContainers, runBench, stopPoint } from './stop.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIFFD = join(here, '../src/main/skiffd-main.js');
const SKIFF = join(here, '../../bin/skiff.js');
/** A cgroup parent of the bench's own: another skiffd's fleet of the same name is not in its way. */
const CGROUP_PARENT = `skiff-bench-fleet-${process.pid}`;
/** The no-op's target, as the issue sets it. */
const NOOP_TARGET_S = 0.3;

interface Options { count: number; benchCount: number; noopRuns: number; launchers: number | null; json: boolean; profile: string | null }

interface Timed { wallSeconds: number; cpuSeconds: number }

interface Result {
  count: number;
  cores: number;
  launchers: number | null;
  loadAverage: { before: number[]; after: number[] };
  /** skiff bench's full lifecycle through the API (containers/s), and the bound it sets for the up */
  lifecycle: { count: number; perSecond: number; boundSeconds: number };
  /** `skiff fleet up` of `count` sleepers: the CLI from spawn to exit, and until skiffd's last start event */
  up: Timed & { allRunningSeconds: number; summary: string };
  /** CPU time spent during the up: skiffd's main process, and its launcher workers with their reaped children */
  upCpu: { skiffdSeconds: number; launchersSeconds: number };
  running: number;
  /** the no-op `fleet up` (runs, each from spawn to exit), and `node -e 0` as many times */
  noop: { runs: Timed[]; medianSeconds: number; fastestSeconds: number; plan: string };
  node: { runs: Timed[]; medianSeconds: number; fastestSeconds: number };
  rssBeforeKiB: number;
  rssAfterKiB: number;
  rssPeakKiB: number;
  bytesPerContainer: number;
  downSeconds: number;
  left: number;
}

function usage(message: string): never {
  process.stderr.write(`bench/fleet: ${message}\nusage: node dist/bench/fleet.js [--count N] [--bench-count B] [--noop-runs R] [--launchers L] [--profile DIR] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { count: 1000, benchCount: 400, noopRuns: 5, launchers: null, json: false, profile: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const int = (): number => positiveIntArg(a, argv[++i], usage);
    switch (a) {
      case '--count': o.count = int(); break;
      case '--bench-count': o.benchCount = int(); break;
      case '--noop-runs': o.noopRuns = int(); break;
      case '--launchers': o.launchers = int(); break;
      case '--json': o.json = true; break;
      case '--profile': o.profile = argv[++i] ?? usage('--profile needs a directory'); break;
      default: usage(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  return o;
}

/** A "kB" field of skiffd's /proc/PID/status; it must be there while skiffd runs. */
function kib(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const v = statusKiB(pid, field);
  if (v === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return v;
}

/** utime+stime (and, with `children`, the reaped children's) in seconds, of a process that must still run. */
function cpu(pid: number, children: boolean): number {
  const s = cpuSeconds(pid, children);
  if (s === null) throw new Error(`bench/fleet: process ${pid} is gone (/proc/${pid}/stat)`);
  return s;
}

/** skiffd's own children that are not containers: its launcher workers, and the console keeper if it is one. */
const isSkiffProcess = (pid: number): boolean => /^skiff-(launcher|keeper)\b/.test(cmdline(pid) ?? '');

function launcherPids(parent: number): number[] {
  return childPids(parent).filter((p) => cmdline(p)?.startsWith('skiff-launcher') ?? false);
}

/** Children of skiffd that are not its own processes: the containers' PID 1s. */
function containerPids(parent: number): number[] {
  return childPids(parent).filter((p) => !isSkiffProcess(p));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startDaemon(dir: string, launchers: number | null, profile: string | null): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(dir, 'skiff.sock');
  const args = [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), SKIFFD, '--socket', socket, '--state-dir', join(dir, 'state'),
    '--cgroup-parent', CGROUP_PARENT, ...(launchers ? ['--launchers', String(launchers)] : [])];
  // skiffd's log is kept, and shown only if it fails.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => log.push(b));
  child.stderr.on('data', (b: Buffer) => log.push(b));
  const failed = (why: string) => new Error(`${why}:\n${Buffer.concat(log).toString('utf8')}`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw failed(`skiffd exited with ${child.exitCode}`);
    try {
      if ((await request(socket, 'GET', '/_ping')).status === 200) return { child, socket };
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw failed('skiffd did not answer within 15 s');
    await sleep(30);
  }
}

function fleetFile(dir: string, name: string, count: number): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}
services:
  sleeper:
    image: host
    command: [sleep, infinity]
    deploy:
      replicas: ${count}
    x-skiff:
      console: { buffer: 16KiB }   # small rings: a thousand consoles
`);
  return file;
}

/**
 * Runs a command to its end, as `time` would: wall seconds from spawn to exit, and its CPU
 * (user + system, from this process's reaped-children counters). Throws unless it exits 0.
 */
async function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<Timed & { stdout: string }> {
  const cpu0 = cpu(process.pid, true) - cpu(process.pid, false);
  const t0 = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpuSpent = cpu(process.pid, true) - cpu(process.pid, false) - cpu0;
  if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}: ${Buffer.concat(err).toString('utf8')}`);
  return { wallSeconds, cpuSeconds: cpuSpent, stdout: Buffer.concat(out).toString('utf8') };
}

/**
 * Counts `start` events of the fleet's containers from GET /events, so the moment the last
 * one runs is seen as it happens, without polling skiffd (which would load the daemon being
 * measured). Resolves when `count` have started; call stop() to end the stream.
 */
async function watchStarts(socket: string, prefix: string, count: number): Promise<{ all: Promise<number>; stop: () => void }> {
  let started = 0;
  const ending = new AbortController();
  const res = await open(socket, 'GET', '/events', { signal: ending.signal });
  const all = new Promise<number>((resolve) => {
    let rest = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const ev = JSON.parse(line) as { Action: string; Actor: { Attributes: { name?: string } } };
        if (ev.Action === 'start' && ev.Actor.Attributes.name?.startsWith(prefix) && ++started === count) resolve(performance.now());
      }
    });
  });
  return { all, stop: () => ending.abort() };
}

/** `skiff fleet up FILE` as a user runs it, and when skiffd's last start event came (from the spawn). */
async function cliUp(socket: string, file: string, prefix: string, count: number, env: NodeJS.ProcessEnv): Promise<Result['up']> {
  const watch = await watchStarts(socket, prefix, count);
  try {
    const t0 = performance.now();
    let allAt: number | null = null;
    void watch.all.then((t) => { allAt = t; });
    const r = await timed([process.execPath, SKIFF, 'fleet', 'up', file], env);
    // The CLI returns once the operation is done, so every start event was sent by then.
    await Promise.race([watch.all, sleep(2000)]);
    return { ...r, allRunningSeconds: allAt === null ? NaN : (allAt - t0) / 1000, summary: r.stdout.trim() };
  } finally {
    watch.stop();
  }
}

async function down(socket: string, name: string): Promise<number> {
  const t0 = performance.now();
  const r = await request(socket, 'DELETE', `/fleets/${name}`);
  if (r.status !== 200) throw new Error(`DELETE /fleets/${name} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function repeated(n: number, argv: string[], env: NodeJS.ProcessEnv): Promise<{ runs: Timed[]; medianSeconds: number; fastestSeconds: number; last: string }> {
  const runs: Timed[] = [];
  let last = '';
  for (let i = 0; i < n; i++) {
    const r = await timed(argv, env);
    runs.push({ wallSeconds: r.wallSeconds, cpuSeconds: r.cpuSeconds });
    last = r.stdout;
  }
  const walls = runs.map((r) => r.wallSeconds);
  return { runs, medianSeconds: median(walls), fastestSeconds: Math.min(...walls), last };
}

/** skiff bench's full lifecycle (create, start, wait, remove) against this skiffd, in containers/s. */
async function lifecycleRate(count: number, env: NodeJS.ProcessEnv): Promise<number> {
  const r = await timed([process.execPath, SKIFF, 'bench', '--count', String(count), '--concurrency', '4', '--serial', '0', '--json'], env);
  const rows = (JSON.parse(r.stdout) as { rows: { runtime: string; perSecond: number; failed: number }[] }).rows;
  const skiff = rows[0];
  if (!skiff || skiff.failed > 0) throw new Error(`skiff bench: ${skiff ? `${skiff.failed} containers failed` : 'no row'}`);
  return skiff.perSecond;
}

async function run(o: Options): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-fleet-'));
  let d: { child: ChildProcess; socket: string } | null = null;
  try {
    d = await startDaemon(dir, o.launchers, o.profile);
    const pid = d.child.pid!;
    const env = { ...process.env, SKIFF_SOCKET: d.socket, SKIFF_STATE_DIR: join(dir, 'state') };
    const before = loadavg();
    const perSecond = await lifecycleRate(o.benchCount, env);
    await stopPoint();

    const warm = fleetFile(dir, 'warmup', 20);
    await timed([process.execPath, SKIFF, 'fleet', 'up', warm], env);
    await down(d.socket, 'warmup');
    const rssBeforeKiB = kib(pid, 'VmRSS');

    const launchers = launcherPids(pid);
    const cpuNow = () => ({ skiffd: cpu(pid, false), launchers: launchers.reduce((t, p) => t + cpu(p, true), 0) });
    const file = fleetFile(dir, 'bench', o.count);
    const cpu0 = cpuNow();
    await stopPoint();
    const up = await cliUp(d.socket, file, 'bench-', o.count, env);
    const cpu1 = cpuNow();
    const upCpu = { skiffdSeconds: cpu1.skiffd - cpu0.skiffd, launchersSeconds: cpu1.launchers - cpu0.launchers };
    const rssAfterKiB = kib(pid, 'VmRSS');
    const rssPeakKiB = kib(pid, 'VmHWM');
    const running = containerPids(pid).length;

    await stopPoint();
    const noop = await repeated(o.noopRuns, [process.execPath, SKIFF, 'fleet', 'up', file], env);
    const node = await repeated(o.noopRuns, [process.execPath, '-e', '0'], env);

    const downSeconds = await down(d.socket, 'bench');
    const left = containerPids(pid).length;
    return {
      count: o.count, cores: availableParallelism(), launchers: o.launchers, loadAverage: { before, after: loadavg() },
      lifecycle: { count: o.benchCount, perSecond, boundSeconds: o.count / perSecond + 1 },
      up, upCpu, running,
      noop: { runs: noop.runs, medianSeconds: noop.medianSeconds, fastestSeconds: noop.fastestSeconds, plan: noop.last.trim() },
      node: { runs: node.runs, medianSeconds: node.medianSeconds, fastestSeconds: node.fastestSeconds },
      rssBeforeKiB, rssAfterKiB, rssPeakKiB,
      bytesPerContainer: Math.round(((rssAfterKiB - rssBeforeKiB) * 1024) / o.count),
      downSeconds, left,
    };
  } finally {
    if (d) {
      await removeContainers(d.socket);
      await endChild(d.child);
    }
    rmSync(dir, { recursive: true, force: true });
    removeCgroupParent();
  }
}

/** The bench's cgroup parent in every hierarchy, once skiffd is gone: empty levels, deepest first. */
function removeCgroupParent(): void {
  const roots = readdirSync('/sys/fs/cgroup', { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join('/sys/fs/cgroup', e.name));
  for (const top of [...roots, '/sys/fs/cgroup'].map((r) => join(r, CGROUP_PARENT)).filter((p) => existsSync(p))) {
    const levels = readdirSync(top, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(top, e.name));
    for (const p of [...levels, top]) {
      try {
        rmdirSync(p);
      } catch (err) {
        process.stderr.write(`bench/fleet: could not remove the cgroup ${p}: ${(err as NodeJS.ErrnoException).code}\n`);
      }
    }
  }
}

function table(r: Result): string {
  const check = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const s = (x: number) => `${x.toFixed(2)} s`;
  const cpuMs = (runs: Timed[]) => `${Math.round(median(runs.map((x) => x.cpuSeconds)) * 1000)} ms CPU`;
  const noopOk = r.noop.medianSeconds <= NOOP_TARGET_S;
  const rows: [string, string, string][] = [
    [`skiff bench, full lifecycle (${r.lifecycle.count}, concurrency 4)`, `${r.lifecycle.perSecond.toFixed(1)}/s`, `bound for the up: ${r.count} / ${r.lifecycle.perSecond.toFixed(1)} + 1 = ${s(r.lifecycle.boundSeconds)}`],
    [`skiff fleet up, ${r.count} sleepers (CLI, spawn to exit)`, `${s(r.up.wallSeconds)} (${Math.round(r.count / r.up.wallSeconds)}/s)`, `≤ ${s(r.lifecycle.boundSeconds)}: ${check(r.up.wallSeconds <= r.lifecycle.boundSeconds && r.running === r.count)}`],
    ['  the last start event, from the spawn', s(r.up.allRunningSeconds), ''],
    ['  CPU during up: skiffd / launchers', `${s(r.upCpu.skiffdSeconds)} / ${s(r.upCpu.launchersSeconds)}`, ''],
    ['  containers running', String(r.running), ''],
    [`no-op skiff fleet up (CLI, median of ${r.noop.runs.length})`, `${s(r.noop.medianSeconds)} (fastest ${s(r.noop.fastestSeconds)}, ${cpuMs(r.noop.runs)})`, `≤ ${s(NOOP_TARGET_S)}: ${check(noopOk)}`],
    [`  node -e 0 (median of ${r.node.runs.length})`, `${s(r.node.medianSeconds)} (fastest ${s(r.node.fastestSeconds)}, ${cpuMs(r.node.runs)})`, 'Node\'s own start-up, in every CLI run'],
    ['skiffd RSS before → after (peak)', `${(r.rssBeforeKiB / 1024).toFixed(1)} → ${(r.rssAfterKiB / 1024).toFixed(1)} MiB (${(r.rssPeakKiB / 1024).toFixed(1)})`, ''],
    ['skiffd memory per container', `${(r.bytesPerContainer / 1024).toFixed(1)} KiB`, `≤ 100 KiB: ${check(r.bytesPerContainer <= 100 * 1024)}`],
    ['fleet down (DELETE /fleets)', s(r.downSeconds), `≤ 5 s: ${check(r.downSeconds <= 5 && r.left === 0)}`],
    ['containers left after down', String(r.left), ''],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const head = `fleet bench: ${r.count} × sleep infinity · ${r.cores} cores · launchers ${r.launchers ?? 'default'} · load average ${load(r.loadAverage.before)} before, ${load(r.loadAverage.after)} after`;
  const lines = rows.map(([a, b, c]) => `  ${a.padEnd(w0)}   ${b.padEnd(w1)}   ${c}`.trimEnd());
  return `${head}\n${lines.join('\n')}\n  up said:    ${r.up.summary}\n  no-op said: ${r.noop.plan}\n`;
}

const opts = parseArgs(process.argv.slice(2));
runBench('bench/fleet', async () => {
  const r = await run(opts);
  process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : table(r));
});
