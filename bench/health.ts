// The health probe benchmark: a skiffd of its own (temp socket, state dir and cgroup parent)
// runs N containers (POST /fleets, as `skiff fleet up`) whose health check runs /bin/true every
// second, and measures over a window, once all are healthy:
//
//   probes/s          sustained, from skiffd's skiff_health_probes_total
//   interval          each container's real time from one probe's start to the next (its last
//                     five probes, State.Health.Log): mean, p10/p50/p90 over all containers
//   CPU per probe     skiffd's main process, its launcher workers, and the probes' own processes
//                     (reaped by skiffd: its cutime+cstime), per probe
//
// beside the reference, in the same run and before the fleet exists: `nsenter -t PID1 -a
// /bin/true` into one container of the same skiffd, as many at once as there are cores, for the
// same window. That is a probe as a C program pays for it, kernel work only (setns, fork, exec).
//
//   node dist/bench/health.js [--containers N] [--window S] [--launchers L] [--health-probes P] [--json]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fleetRequestBody } from '../src/api/fleet-wire.js';
import { request } from '../src/api/http-client.js';
import type { FleetView } from '../src/api/fleets.js';
import { percentile } from '../src/api/stats.js';
import { loadFleetFile } from '../src/compose/fleet.js';
import { RUSAGE_CHILDREN } from '../src/sys/constants.js';
import { childPids, cmdline, cpuSeconds } from '../src/sys/proc.js';
import { cpuTime } from '../src/sys/rusage.js';
import { positiveIntArg } from './args.js';
import { endChild, removeContainers, runBench, stopPoint } from './stop.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIFFD = join(here, '../src/main/skiffd-main.js');

interface Options { containers: number; windowS: number; launchers: number | null; probes: number | null; json: boolean }

function usage(message: string): never {
  process.stderr.write(`bench/health: ${message}\nusage: node dist/bench/health.js [--containers N] [--window S] [--launchers L] [--health-probes P] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { containers: 500, windowS: 20, launchers: null, probes: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--containers': o.containers = positiveIntArg(a, argv[++i], usage); break;
      case '--window': o.windowS = positiveIntArg(a, argv[++i], usage); break;
      case '--launchers': o.launchers = positiveIntArg(a, argv[++i], usage); break;
      case '--health-probes': o.probes = positiveIntArg(a, argv[++i], usage); break;
      case '--json': o.json = true; break;
      default: usage(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(socket: string, method: string, path: string, body?: unknown): Promise<{ body: unknown; text: string }> {
  const r = await request(socket, method, path, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r;
}

async function startDaemon(dir: string, o: Options): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(dir, 'skiff.sock');
  const child = spawn(process.execPath, [SKIFFD, '--socket', socket, '--state-dir', join(dir, 'state'), '--cgroup-parent', `skiff-bench-health-${process.pid}`,
    ...(o.launchers ? ['--launchers', String(o.launchers)] : []), ...(o.probes ? ['--health-probes', String(o.probes)] : [])],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`skiffd exited with ${child.exitCode}`);
    try {
      if ((await request(socket, 'GET', '/_ping')).status === 200) return { child, socket };
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error('skiffd did not answer within 15 s');
    await sleep(50);
  }
}

/** CPU seconds: skiffd's own, its reaped children's (the probes' processes), its launchers'. */
function daemonCpu(pid: number): { skiffd: number; probes: number; launchers: number } {
  const own = cpuSeconds(pid, false);
  const withChildren = cpuSeconds(pid, true);
  if (own === null || withChildren === null) throw new Error(`skiffd (pid ${pid}) is gone`);
  let launchers = 0;
  for (const p of childPids(pid)) if (cmdline(p)?.startsWith('skiff-launcher')) launchers += cpuSeconds(p, true) ?? 0;
  return { skiffd: own, probes: withChildren - own, launchers };
}

function childrenCpu(): number {
  const t = cpuTime(RUSAGE_CHILDREN);
  return t.userSeconds + t.systemSeconds;
}

function runProcess(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

/** `nsenter -t PID -a /bin/true`, `lanes` at once, for `seconds`: how many, and CPU per one. */
async function nsenterReference(pid: number, lanes: number, seconds: number): Promise<{ perSecond: number; cpuMs: number }> {
  const end = performance.now() + seconds * 1000;
  const c0 = childrenCpu();
  let n = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (performance.now() < end) {
      await runProcess('nsenter', ['-t', String(pid), '-a', '/bin/true']);
      n++;
    }
  }));
  return { perSecond: n / seconds, cpuMs: ((childrenCpu() - c0) * 1000) / n };
}

async function upFleet(dir: string, socket: string, count: number): Promise<string> {
  const file = join(dir, 'hbench.yaml');
  writeFileSync(file, `name: hbench
services:
  web:
    image: host
    command: [/bin/sleep, "3600"]
    deploy: { replicas: ${count} }
    healthcheck: { test: [CMD, /bin/true], interval: 1s }
    x-skiff:
      console: { buffer: 16KiB }
`);
  const fleet = await loadFleetFile(file);
  await api(socket, 'POST', '/fleets', fleetRequestBody(fleet));
  const deadline = Date.now() + 600_000;
  for (;;) {
    const v = (await api(socket, 'GET', '/fleets/hbench?containers=0')).body as FleetView;
    if (v.totals.healthy === count) return fleet.name;
    if (v.totals.failed > 0) throw new Error(`${v.totals.failed} of the fleet's containers failed to start`);
    if (Date.now() > deadline) throw new Error(`only ${v.totals.healthy} of ${count} healthy after 10 minutes`);
    await sleep(1000);
  }
}

/** Start-to-start times between each container's consecutive probes (its last five). */
async function intervals(socket: string): Promise<number[]> {
  const list = (await api(socket, 'GET', '/containers/json')).body as { Id: string }[];
  const out: number[] = [];
  for (const c of list) {
    const info = (await api(socket, 'GET', `/containers/${c.Id}/json`)).body as { State: { Health?: { Log: { Start: string }[] } } };
    const starts = (info.State.Health?.Log ?? []).map((e) => Date.parse(e.Start)).sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) out.push((starts[i]! - starts[i - 1]!) / 1000);
  }
  return out.sort((a, b) => a - b);
}

async function probesTotal(socket: string): Promise<number> {
  const text = (await api(socket, 'GET', '/metrics')).text;
  const m = /^skiff_health_probes_total (\d+)$/m.exec(text);
  if (!m) throw new Error('GET /metrics has no skiff_health_probes_total');
  return Number(m[1]);
}

async function run(o: Options) {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-health-'));
  let child: ChildProcess | null = null;
  let socket = '';
  try {
    const d = await startDaemon(dir, o);
    child = d.child;
    socket = d.socket;
    const pid = child.pid!;
    await api(socket, 'POST', '/containers/create?name=ref', { Image: 'host', Cmd: ['/bin/sleep', '3600'], HostConfig: { NetworkMode: 'none' } });
    await api(socket, 'POST', '/containers/ref/start');
    const refPid = ((await api(socket, 'GET', '/containers/ref/json')).body as { State: { Pid: number } }).State.Pid;
    const lanes = availableParallelism();
    const loadBefore = loadavg()[0]!;
    const nsenter = await nsenterReference(refPid, lanes, o.windowS);
    await api(socket, 'DELETE', '/containers/ref?force=1');

    await stopPoint();
    await upFleet(dir, socket, o.containers);
    await stopPoint();
    const c0 = daemonCpu(pid);
    const p0 = await probesTotal(socket);
    const t0 = performance.now();
    await sleep(o.windowS * 1000);
    const c1 = daemonCpu(pid);
    const p1 = await probesTotal(socket);
    const elapsed = (performance.now() - t0) / 1000;
    const loadAfter = loadavg()[0]!;
    const gaps = await intervals(socket);
    const probes = p1 - p0;
    const perProbe = (a: number, b: number) => ((b - a) * 1000) / Math.max(1, probes);
    return {
      kernel: release(), cores: lanes, launchers: o.launchers, healthProbes: o.probes, containers: o.containers, windowS: elapsed, loadAverage1m: [loadBefore, loadAfter],
      skiff: {
        probes, perSecond: probes / elapsed,
        intervalS: { mean: gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length), p10: percentile(gaps, 10), p50: percentile(gaps, 50), p90: percentile(gaps, 90) },
        cpuMsPerProbe: { skiffd: perProbe(c0.skiffd, c1.skiffd), launchers: perProbe(c0.launchers, c1.launchers), probeProcesses: perProbe(c0.probes, c1.probes) },
        cpuPercentOfCore: { skiffd: (100 * (c1.skiffd - c0.skiffd)) / elapsed, launchers: (100 * (c1.launchers - c0.launchers)) / elapsed },
      },
      nsenter: { lanes, perSecond: nsenter.perSecond, cpuMsPerProbe: nsenter.cpuMs },
    };
  } finally {
    if (socket) await api(socket, 'DELETE', '/fleets/hbench').catch(() => undefined);
    if (socket) await api(socket, 'DELETE', '/containers/ref?force=1').catch(() => undefined);
    if (socket) await removeContainers(socket);
    if (child) await endChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(r: Awaited<ReturnType<typeof run>>): string {
  const s = r.skiff;
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  return [
    `health probes: ${r.containers} containers, /bin/true every 1 s, ${r.windowS.toFixed(1)} s window · ${r.cores} cores · launchers ${r.launchers ?? 'default'} · --health-probes ${r.healthProbes ?? 'default'} · kernel ${r.kernel} · load ${r.loadAverage1m.map((l) => l.toFixed(2)).join(' → ')}`,
    `  skiff    ${s.perSecond.toFixed(0).padStart(5)} probes/s   each container every ${s.intervalS.mean.toFixed(2)} s (p10 ${s.intervalS.p10.toFixed(2)}, p50 ${s.intervalS.p50.toFixed(2)}, p90 ${s.intervalS.p90.toFixed(2)})`,
    `           CPU per probe: skiffd ${ms(s.cpuMsPerProbe.skiffd)}, launchers ${ms(s.cpuMsPerProbe.launchers)}, the probe's process ${ms(s.cpuMsPerProbe.probeProcesses)}`
      + ` · skiffd ${s.cpuPercentOfCore.skiffd.toFixed(1)}% of a core, launchers ${s.cpuPercentOfCore.launchers.toFixed(1)}%`,
    `  nsenter  ${r.nsenter.perSecond.toFixed(0).padStart(5)} probes/s   ${r.nsenter.lanes} at once, one container · CPU per probe ${ms(r.nsenter.cpuMsPerProbe)} (nsenter and /bin/true)`,
    '',
  ].join('\n');
}

const opts = parseArgs(process.argv.slice(2));
runBench('bench/health', async () => {
  const r = await run(opts);
  process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : table(r));
});
