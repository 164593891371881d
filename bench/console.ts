// The console benchmark: a container writes as fast as it can to its console and one
// attached client reads it through ConsoleHub (pty master → forwarder thread → client
// pipe → net.Socket in this thread), side by side in the same run with the raw reference:
// the same container on a bare pty pair whose master this thread drains with a tight
// blocking read loop. Throughput is bytes over wall time from the start request to the
// reader's end of stream, for both alike; CPU is this process's own (all its threads,
// process.cpuUsage), per GB forwarded. Also: the same write with nobody attached. Each
// round runs the three back to back; the ratio is the median over rounds of attached/raw.
// The pipe case, as a container without a TTY has: the same writer on a pipe through
// ConsoleHub to one attached reader (records decoded), against a bare pipe that this
// thread drains with a tight blocking read loop, in the same round.
//
// --keeper runs the forwarder as skiffd does, in a keeper process (its CPU counted from /proc).
//
//   node dist/bench/console.js [--mb 256] [--rounds 3] [--no-splice] [--keeper] [--only pty|pipe] [--writer 'dd …'] [--json]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleHub } from '../src/forwarder/index.js';
import { Reaper } from '../src/main/lifecycle/reaper.js';
import { validateSpec } from '../src/spec/container.js';
import { EINTR } from '../src/sys/errno.js';
import { close, openPty, readRaw } from '../src/sys/libc.js';
import { O_CLOEXEC } from '../src/sys/constants.js';
import { pipe } from '../src/sys/splice.js';
import type { LaunchConsole } from '../src/workers/plan.js';
import { startContainer } from '../src/workers/start.js';

interface Options {
  mb: number;
  rounds: number;
  splice: boolean;
  writer: string | null;
  json: boolean;
  keeper: boolean;
  /** which cases run: the pty ones, the pipe ones, or both */
  cases: Set<'pty' | 'pipe'>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { mb: 256, rounds: 3, splice: true, writer: null, json: false, keeper: false, cases: new Set(['pty', 'pipe']) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--mb') o.mb = Number(value());
    else if (a === '--rounds') o.rounds = Number(value());
    else if (a === '--no-splice') o.splice = false;
    else if (a === '--writer') o.writer = value();
    else if (a === '--json') o.json = true;
    else if (a === '--keeper') o.keeper = true;
    else if (a === '--only') {
      const c = value();
      if (c !== 'pty' && c !== 'pipe') throw new Error(`--only takes pty or pipe, got ${JSON.stringify(c)}`);
      o.cases = new Set([c]);
    }
    else throw new Error(`unknown option ${a}; usage: console.js [--mb N] [--rounds N] [--no-splice] [--keeper] [--only pty|pipe] [--writer CMD] [--json]`);
  }
  if (!Number.isInteger(o.mb) || o.mb < 1) throw new Error(`--mb must be a positive integer, got ${o.mb}`);
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error(`--rounds must be a positive integer, got ${o.rounds}`);
  return o;
}

interface Sample {
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  dropped: number;
}

/** CPU of this process and, with --keeper, of the keeper process: seconds since `since`. */
interface CpuMark { own: NodeJS.CpuUsage; keeper: number }
let keeperPid: number | null = null;

function keeperCpu(): number {
  if (keeperPid === null) return 0;
  const fields = readFileSync(`/proc/${keeperPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
}

function cpuMark(): CpuMark {
  return { own: process.cpuUsage(), keeper: keeperCpu() };
}

function cpuSeconds(since: CpuMark): number {
  const d = process.cpuUsage(since.own);
  return (d.user + d.system) / 1e6 + keeperCpu() - since.keeper;
}

class Bench {
  private readonly reaper = new Reaper();
  private readonly rootMount = mkdtempSync(join(tmpdir(), 'skiff-bench-console-'));
  private readonly hub: ConsoleHub;
  private seq = 0;

  private readonly keeperDir: string | null;

  constructor(o: Options, private readonly writer: string) {
    this.keeperDir = o.keeper ? mkdtempSync(join(tmpdir(), 'skiff-bench-keeper-')) : null;
    this.hub = new ConsoleHub({ spliceTty: o.splice, clientBacklog: 64 << 20, ...(this.keeperDir ? { keeper: { dir: this.keeperDir } } : {}) });
  }

  async connect(): Promise<void> {
    await this.hub.connect();
    keeperPid = this.hub.pids()[0] ?? null;
  }

  private start(slavePath: string): Promise<{ exitCode: number }> {
    return this.launch({ kind: 'pty', slavePath });
  }

  private launch(console: LaunchConsole): Promise<{ exitCode: number }> {
    const spec = validateSpec({ name: `bench-${++this.seq}`, command: ['/bin/sh', '-c', this.writer] });
    const { pid } = startContainer({ spec, rootMount: this.rootMount, layerDir: null, console });
    return this.reaper.watch(pid).exited;
  }

  /** The pipe reference: the container's stdout and stderr on one bare pipe, drained by a blocking read loop. */
  async rawPipe(): Promise<Sample> {
    const p = pipe(O_CLOEXEC);
    const cpu = cpuMark();
    const t0 = performance.now();
    let bytes = 0;
    let exited;
    try {
      const path = `/proc/${process.pid}/fd/${p.write}`;
      try {
        exited = this.launch({ kind: 'pipes', stdin: null, stdout: path, stderr: path });
      } finally {
        close(p.write); // PID 1 has its own now: end of file comes when it exits
      }
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readRaw(p.read, buf);
        if (n === -EINTR) continue;
        if (n <= 0) break;
        bytes += n;
      }
    } finally {
      close(p.read);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(cpu);
    check(await exited, 'raw pipe');
    return { bytes, seconds, cpuSeconds: cpuS, dropped: 0 };
  }

  /** Through ConsoleHub's pipes (a container without a TTY), one client reading everything. */
  async forwardedPipe(): Promise<Sample> {
    const id = `bench-${this.seq + 1}`;
    const cpu = cpuMark();
    const t0 = performance.now();
    const ends = await this.hub.openPipes(id, { buffer: 1 << 20, logPath: null, logMax: 0, stdin: false });
    let bytes = 0;
    const client = await this.hub.attach(id, { replay: false, stdin: false });
    client.output.on('data', (d: Buffer) => { bytes += d.length; });
    const ended = new Promise<void>((resolve) => client.output.once('end', () => resolve()));
    const path = (fd: number) => `/proc/${process.pid}/fd/${fd}`;
    let exited;
    try {
      exited = this.launch({ kind: 'pipes', stdin: null, stdout: path(ends.stdout), stderr: path(ends.stderr) });
    } finally {
      close(ends.stdout);
      close(ends.stderr);
    }
    check(await exited, 'forwarded pipe');
    await this.hub.exited(id);
    await ended;
    const seconds = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(cpu);
    const dropped = client.dropped;
    await this.hub.remove(id);
    return { bytes, seconds, cpuSeconds: cpuS, dropped };
  }

  /** The reference: a bare pty, its master drained by a blocking read loop in this thread. */
  async raw(): Promise<Sample> {
    const pty = openPty({ nonBlocking: false });
    const cpu = cpuMark();
    const t0 = performance.now();
    let bytes = 0;
    let exited;
    try {
      exited = this.start(pty.slavePath);
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readRaw(pty.master, buf);
        if (n === -EINTR) continue;
        if (n <= 0) break; // EIO: the container is gone
        bytes += n;
      }
    } finally {
      close(pty.master);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(cpu);
    check(await exited, 'raw');
    return { bytes, seconds, cpuSeconds: cpuS, dropped: 0 };
  }

  /** Through ConsoleHub, with one client reading everything (or, attached = false, nobody). */
  async forwarded(attached: boolean): Promise<Sample> {
    const id = `bench-${this.seq + 1}`;
    const cpu = cpuMark();
    const t0 = performance.now();
    const { slavePath } = await this.hub.open(id, { buffer: 1 << 20, logPath: null, logMax: 0 });
    let bytes = 0;
    let ended: Promise<void> = Promise.resolve();
    const client = attached ? await this.hub.attach(id, { replay: false, stdin: false }) : null;
    if (client) {
      client.output.on('data', (d: Buffer) => { bytes += d.length; });
      ended = new Promise((resolve) => client.output.once('close', () => resolve()));
    }
    const exited = this.start(slavePath);
    check(await exited, 'forwarded');
    await this.hub.exited(id);
    await ended;
    const seconds = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(cpu);
    if (!client) bytes = (await this.hub.counters(id)).bytesIn;
    const dropped = client?.dropped ?? 0;
    await this.hub.remove(id);
    return { bytes, seconds, cpuSeconds: cpuS, dropped };
  }

  /**
   * The control hop: median and p99 of `n` sequential `counters` requests (what inspect asks the
   * forwarder), in µs; through a keeper each is a frame each way on its socket.
   */
  async roundTrips(n: number): Promise<{ p50: number; p99: number }> {
    const id = `bench-rtt-${++this.seq}`;
    await this.hub.open(id, { buffer: 1 << 16, logPath: null, logMax: 0 });
    const times: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await this.hub.counters(id);
        times.push((performance.now() - t) * 1000);
      }
    } finally {
      await this.hub.remove(id);
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(n / 2)]!, p99: times[Math.floor(n * 0.99)]! };
  }

  async close(): Promise<void> {
    await this.hub.close();
    this.reaper.close();
    rmSync(this.rootMount, { recursive: true, force: true });
    if (this.keeperDir) rmSync(this.keeperDir, { recursive: true, force: true });
  }
}

function check(exit: { exitCode: number }, what: string): void {
  if (exit.exitCode !== 0) throw new Error(`${what}: the writer exited with ${exit.exitCode}`);
}

const MiB = 1024 * 1024;
const rate = (s: Sample): number => s.bytes / s.seconds / MiB;
const cpuPerGB = (s: Sample): number => s.cpuSeconds / (s.bytes / 1e9);
/** NaN for no samples (a case --only left out) */
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const count = Math.ceil((o.mb * MiB) / 65536);
  const writer = o.writer ?? `dd if=/dev/zero bs=64k count=${count} 2>/dev/null`;
  const loadBefore = loadavg()[0]!;
  const bench = new Bench(o, writer);
  const runs: Record<'raw' | 'attached' | 'detached' | 'rawPipe' | 'pipeAttached', Sample[]> = { raw: [], attached: [], detached: [], rawPipe: [], pipeAttached: [] };
  let rtt = { p50: 0, p99: 0 };
  try {
    await bench.connect();
    await (o.cases.has('pty') ? bench.forwarded(true) : bench.forwardedPipe()); // warm-up: threads, JIT
    for (let r = 0; r < o.rounds; r++) {
      if (o.cases.has('pty')) {
        runs.raw.push(await bench.raw());
        runs.attached.push(await bench.forwarded(true));
        runs.detached.push(await bench.forwarded(false));
      }
      if (o.cases.has('pipe')) {
        runs.rawPipe.push(await bench.rawPipe());
        runs.pipeAttached.push(await bench.forwardedPipe());
      }
    }
    rtt = await bench.roundTrips(1000);
  } finally {
    await bench.close();
  }
  const summary = Object.fromEntries(Object.entries(runs).filter(([, samples]) => samples.length > 0).map(([k, samples]) => [k, {
    mibPerSecond: median(samples.map(rate)),
    bestMibPerSecond: Math.max(...samples.map(rate)),
    cpuSecondsPerGB: median(samples.map(cpuPerGB)),
    droppedBytes: samples.reduce((a, s) => a + s.dropped, 0),
    bytes: samples[0]!.bytes,
  }]));
  // Each round runs raw then attached back to back: the median of those pairs' ratios.
  const ratio = median(runs.attached.map((s, i) => rate(s) / rate(runs.raw[i]!)));
  const pipeRatio = median(runs.pipeAttached.map((s, i) => rate(s) / rate(runs.rawPipe[i]!)));
  const load = [loadBefore, loadavg()[0]!];
  if (o.json) {
    console.log(JSON.stringify({ writer, splice: o.splice, keeper: o.keeper, rounds: o.rounds, kernel: release(), loadavg: load, ...summary, ratio, pipeRatio, counters: rtt }, null, 2));
    return;
  }
  console.log(`console bench: writer \`${writer}\`, ${o.rounds} rounds, kernel ${release()}, ${o.splice ? 'splice' : 'read/write (forced)'}, `
    + `${o.keeper ? 'forwarder in a keeper process, ' : ''}load average ${load.map((l) => l.toFixed(2)).join(' → ')}; medians`);
  const line = (name: string, k: string): void => {
    const s = summary[k];
    if (s === undefined) return;
    console.log(`  ${name.padEnd(34)} ${s.mibPerSecond.toFixed(1).padStart(7)} MiB/s (best ${s.bestMibPerSecond.toFixed(1)})   skiff CPU ${s.cpuSecondsPerGB.toFixed(2)} s/GB${s.droppedBytes ? `   dropped ${s.droppedBytes} B` : ''}`);
  };
  line('raw pty, blocking read loop', 'raw');
  line('ConsoleHub → 1 attached reader', 'attached');
  line('ConsoleHub, nobody attached', 'detached');
  line('raw pipe, blocking read loop', 'rawPipe');
  line('pipes → ConsoleHub → 1 attached reader', 'pipeAttached');
  console.log(`  attached / raw, median of the rounds' pairs: ${(ratio * 100).toFixed(1)}% (target ≥ 80%)`);
  console.log(`  pipe attached / raw pipe, median of the rounds' pairs: ${(pipeRatio * 100).toFixed(1)}% (target ≥ 90%)`);
  console.log(`  a control request (counters), 1000 in a row: p50 ${rtt.p50.toFixed(0)} µs, p99 ${rtt.p99.toFixed(0)} µs`);
  const rounds = (k: keyof typeof runs): string => runs[k].map((s) => rate(s).toFixed(0)).join(' ');
  console.log(`  per round, MiB/s: raw ${rounds('raw')} | attached ${rounds('attached')} | nobody ${rounds('detached')} | raw pipe ${rounds('rawPipe')} | pipe attached ${rounds('pipeAttached')}`);
}

main().catch((err: unknown) => {
  console.error(`console bench: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
