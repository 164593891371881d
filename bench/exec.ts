// The exec benchmark: a real skiffd (dist/src/main/skiffd-main.js, its own state dir and socket)
// runs one container, and N execs of /bin/true go into it, one at a time (unloaded), measured
// as the client sees them, in the same run as the reference `nsenter -t PID1 -a /bin/true`:
//
//   api-detached  POST /containers/web/exec + POST /exec/{id}/start {Detach: true}: answered once
//                 the launcher saw the command exec'd (request → command exec'd)
//   api-attached  the same, not detached: the hijacked stream read to its end, which skiffd ends
//                 only once the exit is recorded (request → exit code known)
//   skiff-exec    `skiff exec web /bin/true`, the CLI process end to end
//   docker-exec   `docker exec web /bin/true` (DOCKER_HOST at skiffd), end to end
//   nsenter       `nsenter -t PID1 -a /bin/true`, end to end: a process that setns's and execs
//
// Rounds interleave the kinds (one of each per round, in a random order), so that a change in
// the machine's load, and the cost of waking skiffd's processes after a CLI ran, fall on all alike. Latencies are wall time: p50, p99 and the mean. CPU per exec is
// what machine load barely changes: skiffd's whole tree (skiffd with its threads, its launchers,
// the execs it reaped) plus this process's reaped children (the CLIs, nsenter), read around
// each call in clock ticks (10 ms), so it is a mean over many calls.
//
//   node dist/bench/exec.js [--count N] [--json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../src/api/http-client.js';
import { percentile } from '../src/api/stats.js';
import { RUSAGE_CHILDREN } from '../src/sys/constants.js';
import { childPids, cmdline, procStat } from '../src/sys/proc.js';
import { cpuTime } from '../src/sys/rusage.js';
import { endChild, runBench, stopPoint } from './stop.js';

/** CPU seconds of skiffd, its reaped children (the execs) and its launchers so far. */
function daemonCpu(pid: number): number {
  const own = procStat(pid);
  if (own === null) throw new Error(`skiffd (pid ${pid}) is gone`);
  let total = own.utime + own.stime + own.cutime + own.cstime;
  for (const child of childPids(pid)) {
    if (!cmdline(child)?.startsWith('skiff-launcher')) continue;
    const st = procStat(child);
    if (st) total += st.utime + st.stime;
  }
  return total;
}

/** CPU seconds of this process's reaped children so far. */
function childrenCpu(): number {
  const t = cpuTime(RUSAGE_CHILDREN);
  return t.userSeconds + t.systemSeconds;
}

type Kind = 'api-detached' | 'api-attached' | 'skiff-exec' | 'docker-exec' | 'nsenter';
const KINDS: Kind[] = ['api-detached', 'api-attached', 'skiff-exec', 'docker-exec', 'nsenter'];
const ROOT = join(import.meta.dirname, '../..');

function parseArgs(argv: string[]): { count: number; json: boolean } {
  const o = { count: 200, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--count') o.count = Number(argv[++i]);
    else if (a === '--json') o.json = true;
    else throw new Error(`unknown option ${a}; usage: exec.js [--count N] [--json]`);
  }
  if (!Number.isInteger(o.count) || o.count < 1) throw new Error(`--count must be a positive integer, got ${o.count}`);
  return o;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs a command to its end; rejects unless it exits 0. */
function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

async function api(socket: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await request(socket, method, path, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-exec-'));
  const socket = join(dir, 'skiff.sock');
  const env = { ...process.env, SKIFF_SOCKET: socket, SKIFF_STATE_DIR: join(dir, 'state'), DOCKER_HOST: `unix://${socket}` };
  const daemon = spawn(process.execPath, [join(ROOT, 'dist/src/main/skiffd-main.js'), '--socket', socket, '--state-dir', join(dir, 'state'),
    '--cgroup-parent', `skiff-bench-exec-${process.pid}`], { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  try {
    for (let i = 0; ; i++) {
      try {
        await api(socket, 'GET', '/_ping');
        break;
      } catch (err) {
        if (i > 300) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // Network none: a Docker API create that names no network joins bridge, which would make a
    // bridge and nft rules in the namespace the bench runs in (and exec does not need one).
    await api(socket, 'POST', '/containers/create?name=web', { Image: 'host', Cmd: ['/bin/sleep', '100000'], HostConfig: { NetworkMode: 'none' } });
    await api(socket, 'POST', '/containers/web/start');
    const pid = ((await api(socket, 'GET', '/containers/web/json')) as { State: { Pid: number } }).State.Pid;
    const once: Record<Kind, () => Promise<void>> = {
      'api-detached': async () => {
        const { Id } = (await api(socket, 'POST', '/containers/web/exec', { Cmd: ['/bin/true'] })) as { Id: string };
        await api(socket, 'POST', `/exec/${Id}/start`, { Detach: true });
      },
      'api-attached': async () => {
        const { Id } = (await api(socket, 'POST', '/containers/web/exec', { Cmd: ['/bin/true'], AttachStdout: true, AttachStderr: true })) as { Id: string };
        await api(socket, 'POST', `/exec/${Id}/start`, { Detach: false });
      },
      'skiff-exec': () => runProcess(process.execPath, [join(ROOT, 'bin/skiff.js'), 'exec', 'web', '/bin/true'], env),
      'docker-exec': () => runProcess('docker', ['exec', 'web', '/bin/true'], env),
      nsenter: () => runProcess('nsenter', ['-t', String(pid), '-a', '/bin/true'], env),
    };
    const samples = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
    const cpu = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
    const tree = () => daemonCpu(daemon.pid!) + childrenCpu();
    const warmup = Math.min(10, o.count);
    for (let round = 0; round < warmup + o.count; round++) {
      await stopPoint();
      // In a new order each round: whichever runs first after the CLIs wakes skiffd's processes from sleep.
      for (const kind of shuffled(KINDS)) {
        const c0 = tree();
        const t0 = performance.now();
        await once[kind]();
        if (round < warmup) continue;
        samples.get(kind)!.push(performance.now() - t0);
        cpu.set(kind, cpu.get(kind)! + tree() - c0);
      }
    }
    const rows = KINDS.map((kind) => {
      const s = samples.get(kind)!.sort((a, b) => a - b);
      return {
        kind, count: s.length, p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length,
        cpuMs: (cpu.get(kind)! * 1000) / s.length,
      };
    });
    const nsenter = rows.find((r) => r.kind === 'nsenter')!.p50;
    if (o.json) {
      console.log(JSON.stringify({ kernel: release(), loadavg: loadavg(), rows }));
    } else {
      console.log(`exec latency, ${o.count} execs of /bin/true per kind, one at a time (kernel ${release()}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
      console.log('kind           p50 ms   p99 ms  mean ms  p50 / nsenter p50   CPU ms/exec');
      for (const r of rows) {
        console.log(`${r.kind.padEnd(13)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(8)} ${r.mean.toFixed(2).padStart(8)}  ${(r.p50 / nsenter).toFixed(2).padStart(6)}×  ${r.cpuMs.toFixed(2).padStart(16)}`);
      }
    }
  } finally {
    // Containers outlive skiffd: the container goes first, whatever failed above.
    await api(socket, 'DELETE', '/containers/web?force=1').catch(() => undefined);
    await endChild(daemon);
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench/exec', main);
