// The fleet benchmark: a skiffd of its own (temp socket and state dir) brings up a fleet of
// N `sleep infinity` containers through POST /fleets, as `skiff fleet up` does, and reports
// the time until all N run, skiffd's resident memory before and after (VmRSS of the main
// process: the launcher workers are separate processes, and the kernel's pipe and pty
// buffers are not in it), and the time of DELETE /fleets/{name} (`skiff fleet down`).
//
//   node dist/bench/fleet.js [--count N] [--launchers L] [--profile DIR] [--json]
//
// --profile writes skiffd's CPU profile (node --cpu-prof) into DIR when it exits.
//
// Targets on 2 cores: 1000 running in ≤ 5 s, ≤ 100 KiB of skiffd memory per container,
// down in ≤ 5 s. The fleet file is written as a user would write it and parsed by the
// CLI's own code (loadFleetFile, fleetRequestBody); a 20-container warm-up fleet comes and
// goes first, so that the memory measured is per container, not skiffd's first-use costs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fleetRequestBody } from '../src/api/fleet-wire.js';
import { open, request } from '../src/api/http-client.js';
import type { FleetView } from '../src/api/fleets.js';
import { loadFleetFile } from '../src/compose/fleet.js';
import { childPids, cmdline, cpuSeconds, statusKiB } from '../src/sys/proc.js';
import { positiveIntArg } from './args.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIFFD = join(here, '../src/main/skiffd-main.js');
/** how often the operation's state is checked, in case some containers never start */
const SLOW_POLL_MS = 500;

interface Options { count: number; launchers: number | null; json: boolean; profile: string | null }

interface Result {
  count: number;
  cores: number;
  launchers: number | null;
  loadAverage1m: number;
  upSeconds: number;
  /** from sending POST /fleets to its 202: reading, validating and planning the fleet */
  acceptMs: number;
  /** CPU time spent during the up: skiffd's main process, and its launcher workers with their reaped children */
  upCpu: { skiffdSeconds: number; launchersSeconds: number };
  running: number;
  failed: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  rssPeakKiB: number;
  bytesPerContainer: number;
  downSeconds: number;
  left: number;
}

function usage(message: string): never {
  process.stderr.write(`bench/fleet: ${message}\nusage: node dist/bench/fleet.js [--count N] [--launchers L] [--profile DIR] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { count: 1000, launchers: null, json: false, profile: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const int = (): number => positiveIntArg(a, argv[++i], usage);
    switch (a) {
      case '--count': o.count = int(); break;
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

const isLauncher = (pid: number): boolean => cmdline(pid)?.startsWith('skiff-launcher') ?? false;

function launcherPids(parent: number): number[] {
  return childPids(parent).filter(isLauncher);
}

/** Children of skiffd that are not its launcher workers: the containers' PID 1s. */
function containerPids(parent: number): number[] {
  return childPids(parent).filter((p) => !isLauncher(p));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startDaemon(dir: string, launchers: number | null, profile: string | null): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(dir, 'skiff.sock');
  const args = [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), SKIFFD, '--socket', socket, '--state-dir', join(dir, 'state'), ...(launchers ? ['--launchers', String(launchers)] : [])];
  // skiffd's log is kept, and shown only if it fails.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
 * Counts `start` events of the fleet's containers from GET /events, so the moment the last
 * one runs is seen as it happens, without polling skiffd (which would load the daemon being
 * measured). Resolves when `count` have started; call stop() to end the stream.
 */
function watchStarts(socket: string, prefix: string, count: number): { all: Promise<number>; stop: () => void } {
  let started = 0;
  const ending = new AbortController();
  const all = new Promise<number>((resolve, reject) => {
    open(socket, 'GET', '/events', { signal: ending.signal }).then((res) => {
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
    }, reject);
  });
  const stop = (): void => ending.abort();
  return { all, stop };
}

/** POST the fleet and wait until all of it runs (or its operation ends); seconds taken. */
async function up(socket: string, file: string): Promise<{ seconds: number; acceptMs: number; view: FleetView }> {
  const fleet = await loadFleetFile(file);
  const body = fleetRequestBody(fleet);
  const total = fleet.services.reduce((n, s) => n + s.replicas, 0);
  const watch = watchStarts(socket, `${fleet.name}-`, total);
  try {
    await sleep(100); // let the event stream be subscribed before the first start
    const t0 = performance.now();
    const posted = await request(socket, 'POST', '/fleets', { body });
    if (posted.status !== 202) throw new Error(`POST /fleets answered ${posted.status}: ${JSON.stringify(posted.body)}`);
    const acceptMs = performance.now() - t0;
    // The events say when the last one started; the operation's end says when to stop waiting
    // if some never will (failed starts), checked now and then.
    let allAt: number | null = null;
    void watch.all.then((t) => { allAt = t; });
    for (;;) {
      await Promise.race([watch.all, sleep(SLOW_POLL_MS)]);
      const v = (await request(socket, 'GET', `/fleets/${fleet.name}?containers=0`)).body as FleetView;
      if (allAt !== null || v.operation?.state !== 'running') {
        return { seconds: ((allAt ?? performance.now()) - t0) / 1000, acceptMs, view: v };
      }
    }
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

async function run(o: Options): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-fleet-'));
  let child: ChildProcess | null = null;
  try {
    const d = await startDaemon(dir, o.launchers, o.profile);
    child = d.child;
    const pid = child.pid!;
    await up(d.socket, fleetFile(dir, 'warmup', 20));
    await down(d.socket, 'warmup');
    await sleep(1000);
    const loadAverage1m = loadavg()[0]!;
    const rssBeforeKiB = kib(pid, 'VmRSS');

    const launchers = launcherPids(pid);
    const cpuNow = () => ({ skiffd: cpu(pid, false), launchers: launchers.reduce((t, p) => t + cpu(p, true), 0) });
    const cpu0 = cpuNow();
    const { seconds: upSeconds, acceptMs, view } = await up(d.socket, fleetFile(dir, 'bench', o.count));
    const cpu1 = cpuNow();
    const upCpu = { skiffdSeconds: cpu1.skiffd - cpu0.skiffd, launchersSeconds: cpu1.launchers - cpu0.launchers };
    const rssAfterKiB = kib(pid, 'VmRSS');
    const rssPeakKiB = kib(pid, 'VmHWM');
    const running = containerPids(pid).length;

    const downSeconds = await down(d.socket, 'bench');
    const left = containerPids(pid).length;
    return {
      count: o.count, cores: availableParallelism(), launchers: o.launchers, loadAverage1m,
      upSeconds, acceptMs, upCpu, running, failed: view.totals.failed, rssBeforeKiB, rssAfterKiB, rssPeakKiB,
      bytesPerContainer: Math.round(((rssAfterKiB - rssBeforeKiB) * 1024) / o.count),
      downSeconds, left,
    };
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(r: Result): string {
  const check = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const rows: [string, string, string][] = [
    [`${r.count} running (time to all running)`, `${r.upSeconds.toFixed(2)} s (${Math.round(r.count / r.upSeconds)}/s)`, `≤ 5 s: ${check(r.upSeconds <= 5 && r.running === r.count)}`],
    ['POST /fleets answered (202) after', `${Math.round(r.acceptMs)} ms`, ''],
    ['containers running / failed', `${r.running} / ${r.failed}`, ''],
    ['CPU during up: skiffd / launchers', `${r.upCpu.skiffdSeconds.toFixed(2)} s / ${r.upCpu.launchersSeconds.toFixed(2)} s`, ''],
    ['skiffd RSS before → after (peak)', `${(r.rssBeforeKiB / 1024).toFixed(1)} → ${(r.rssAfterKiB / 1024).toFixed(1)} MiB (${(r.rssPeakKiB / 1024).toFixed(1)})`, ''],
    ['skiffd memory per container', `${(r.bytesPerContainer / 1024).toFixed(1)} KiB`, `≤ 100 KiB: ${check(r.bytesPerContainer <= 100 * 1024)}`],
    ['fleet down', `${r.downSeconds.toFixed(2)} s`, `≤ 5 s: ${check(r.downSeconds <= 5 && r.left === 0)}`],
    ['containers left after down', String(r.left), ''],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const head = `fleet bench: ${r.count} × sleep infinity · ${r.cores} cores · launchers ${r.launchers ?? 'default'} · load average ${r.loadAverage1m.toFixed(2)} at start`;
  return `${head}\n${rows.map(([a, b, c]) => `  ${a.padEnd(w0)}   ${b.padEnd(w1)}   ${c}`.trimEnd()).join('\n')}\n`;
}

const opts = parseArgs(process.argv.slice(2));
run(opts).then((r) => {
  process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : table(r));
}, (err: Error) => {
  process.stderr.write(`bench/fleet: ${err.message}\n`);
  process.exit(1);
});
