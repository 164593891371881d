// `skiff bench`: N containers of /bin/true through skiffd's API beside the same number of
// `unshare`, `bwrap`, `crun run` and `runc run` in the same run, at the same concurrency, on
// one busybox rootfs. By default every row is the whole lifecycle of a container (create,
// start, wait for the exit, remove: what one `runc run` does), so the figures compare like
// with like: skiff's as `docker run --rm` drives it (three requests: create with AutoRemove,
// wait for the removal, start); `--lifecycle full` drives the same lifecycle in four requests
// (create, start, wait, DELETE), and `--lifecycle start` times skiff's create + start alone.
// Each row says which.
//
// Each row also says what it cost in CPU (usage.ts): the process tree's (skiff's processes
// and its containers, or a reference's bash loop and all it ran) and the whole machine's.
// Rows start on a quiet machine and are charged what they leave behind (settleMachine), so
// that the order of the rows favours none of them.
// Then, unless --serial 0, a serial section: skiff's create + start and whole lifecycle (as
// the main row drives it; rm with --lifecycle start) one at a time, beside each reference one
// at a time.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDaemon } from '../client.js';
import { socketFromEnv } from '../../api/defaults.js';
import { formatTable } from '../table.js';
import { percentile } from '../../api/stats.js';
import { buildRootfs, writeOciBundle } from './bundle.js';
import { runExternal, type ExternalRuntime, type Sample } from './external.js';
import { BenchStopped, listenForStop, stopPoint } from './stop.js';
import { throughApi, type Lifecycle } from './through-api.js';
import { keeperPid, machineBusySeconds, minus, reapedChildrenSeconds, settleMachine, skiffCpu, skiffdPid, type SkiffCpu } from './usage.js';

export interface BenchOptions {
  count: number;
  concurrency: number;
  vs: ExternalRuntime[];
  json: boolean;
  warmup: number;
  lifecycle: Lifecycle;
  /** containers per row of the serial section (0: none) */
  serial: number;
}

interface Row {
  runtime: string;
  /** what one container's latency spans */
  includes: string;
  concurrency: number;
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  /** user + system CPU per container of the row's processes: skiff's and its containers', or the reference loop's tree */
  cpuMs: number;
  /** busy CPU per container of the whole machine (kernel threads and everyone else's load included) */
  machineCpuMs: number;
  /** skiff rows: cpuMs split by process */
  skiff?: SkiffCpu;
  failed: number;
  firstError: string | null;
}

const INCLUDES: Record<Lifecycle | 'run', string> = {
  rm: 'docker run --rm: create (AutoRemove), wait (removed), start; exit, removal',
  full: 'create, start, wait for exit, remove (4 requests)',
  start: 'create, start (PID 1 exec\'d)',
  run: 'one run: create, start, exit, delete',
};

function row(runtime: string, includes: string, concurrency: number, s: Sample, cpuSeconds: number, machineSeconds: number, skiff?: SkiffCpu): Row {
  const sorted = [...s.latenciesMs].sort((a, b) => a - b);
  const done = s.latenciesMs.length;
  const per = (x: number) => (x * 1000) / Math.max(1, done + s.failed);
  return {
    runtime, includes, concurrency, count: done, seconds: s.wallMs / 1000, perSecond: done / (s.wallMs / 1000),
    p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99),
    cpuMs: per(cpuSeconds), machineCpuMs: per(machineSeconds),
    ...(skiff ? { skiff: { skiffd: per(skiff.skiffd), keeper: per(skiff.keeper), launchers: per(skiff.launchers), containers: per(skiff.containers) } } : {}),
    failed: s.failed, firstError: s.firstError,
  };
}

interface Context { socket: string; pid: number; rootfs: string; bundle: string; work: string }

/**
 * Every row starts on a quiet machine and its CPU is read once the machine is quiet again
 * (settleMachine): the work a row leaves behind (namespace teardown in kworkers, skiffd's
 * removals off the request path) is charged to that row, not to the next one. Throughput and
 * latency are the row's own wall time, as before. `unsettled` counts the waits that gave up.
 */
const settling = { unsettled: 0 };

async function settled(): Promise<void> {
  if (!(await settleMachine())) settling.unsettled++;
}

async function skiffRow(cx: Context, lifecycle: Lifecycle, count: number, concurrency: number, label: string): Promise<Row> {
  await stopPoint(); // a row is a step: a stop asked for meanwhile ends the bench here (stop.ts)
  await settled();
  const cpu0 = skiffCpu(cx.pid, keeperPid(cx.socket));
  const m0 = machineBusySeconds();
  const s = await throughApi({ socket: cx.socket, rootfs: cx.rootfs, lifecycle, count, concurrency, label });
  await settled();
  const machine = machineBusySeconds() - m0;
  const cpu = minus(skiffCpu(cx.pid, keeperPid(cx.socket)), cpu0);
  return row('skiff (API)', INCLUDES[lifecycle], concurrency, s, cpu.skiffd + cpu.keeper + cpu.launchers + cpu.containers, machine, cpu);
}

async function externalRow(cx: Context, runtime: ExternalRuntime, count: number, concurrency: number, warmup: number): Promise<Row> {
  await stopPoint();
  const p = { runtime, count, concurrency, bundle: cx.bundle, rootfs: cx.rootfs, stateRoot: join(cx.work, `${runtime}-state`), dir: join(cx.work, `${runtime}-${concurrency}`) };
  if (warmup > 0) await runExternal({ ...p, count: warmup, dir: `${p.dir}-warmup` });
  await settled();
  const c0 = reapedChildrenSeconds();
  const m0 = machineBusySeconds();
  const s = await runExternal(p);
  await settled();
  const machine = machineBusySeconds() - m0;
  return row(runtime, runtime === 'unshare' || runtime === 'bwrap' ? 'one run: fork, namespaces, exec, exit' : INCLUDES.run, concurrency, s, reapedChildrenSeconds() - c0, machine);
}

function ratio(a: Row | undefined, b: Row | undefined): string {
  return a && b && b.perSecond > 0 ? `${(a.perSecond / b.perSecond).toFixed(2)}x` : '-';
}

function print(o: BenchOptions, main: Row[], serial: Row[], load: { before: number[]; after: number[] }): void {
  const out: string[] = [];
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const table = (rows: Row[]) => formatTable(['RUNTIME', 'CONC', 'CONTAINERS/S', 'P50 MS', 'P90 MS', 'P99 MS', 'CPU MS/CTR', 'MACHINE MS/CTR', 'FAILED', 'EACH CONTAINER IS'],
    rows.map((r) => [r.runtime, String(r.concurrency), f(r.perSecond, 1), f(r.p50), f(r.p90), f(r.p99), f(r.cpuMs), f(r.machineCpuMs), String(r.failed), r.includes]));
  out.push(`skiff bench: ${o.count} containers of /bin/true (busybox rootfs) per row, concurrency ${o.concurrency}, after ${o.warmup} warm-up; ${cpus().length} cores, kernel ${release()}`);
  out.push(`load average ${load.before.map((x) => x.toFixed(2)).join(' ')} before, ${load.after.map((x) => x.toFixed(2)).join(' ')} after`);
  out.push('latency: from the first request (skiff) or the command (the others) to what the last column says is done');
  out.push('CPU MS/CTR: user+system of the row\'s processes per container (skiff: skiffd with its threads, the console keeper, launchers, the containers; others: the whole command tree)');
  out.push('MACHINE MS/CTR: all CPUs\' busy time per container from /proc/stat (kernel threads included, and any other load on the machine)');
  out.push(`each row starts on a quiet machine, and its CPU columns run on until the machine is quiet again (what the row left to kworkers and skiffd counts to it)${settling.unsettled > 0 ? `; ${settling.unsettled} wait(s) for quiet gave up after 10 s: figures mixed with other load` : ''}`);
  out.push('');
  out.push(table(main).trimEnd());
  const skiff = main[0]!;
  if (skiff.skiff) {
    const s = skiff.skiff;
    out.push('', `skiff CPU per container: skiffd ${f(s.skiffd)} ms, keeper ${f(s.keeper)} ms, launchers ${f(s.launchers)} ms, containers' PID 1s ${f(s.containers)} ms`);
  }
  for (const r of main.slice(1)) out.push(`skiff/${r.runtime}: ${ratio(skiff, r)} (containers/s)`);
  if (serial.length > 0) {
    out.push('', `serial: ${o.serial} containers per row, one at a time`, table(serial).trimEnd());
    const createStart = serial.find((r) => r.runtime === 'skiff (API)' && r.includes === INCLUDES.start);
    const unshare = serial.find((r) => r.runtime === 'unshare');
    if (createStart && unshare) out.push(`serial p50: skiff create+start ${f(createStart.p50)} ms, unshare ${f(unshare.p50)} ms`);
  }
  for (const r of [...main, ...serial]) if (r.firstError) out.push(`${r.runtime} (concurrency ${r.concurrency}): first error: ${r.firstError}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export async function bench(o: BenchOptions): Promise<number> {
  // One call per request in flight, as the bench's requests would each make it: they share one
  // start of skiffd if none answers (ensureDaemon), which the hardening test relies on.
  await Promise.all(Array.from({ length: o.concurrency }, () => ensureDaemon()));
  const socket = socketFromEnv();
  const work = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  const main: Row[] = [];
  const serial: Row[] = [];
  const before = loadavg();
  const stopListening = listenForStop('skiff bench');
  try {
    const rootfs = buildRootfs(join(work, 'rootfs'));
    const bundle = o.vs.some((r) => r === 'runc' || r === 'crun') ? writeOciBundle(join(work, 'bundle'), rootfs) : '';
    const cx: Context = { socket, pid: skiffdPid(socket), rootfs, bundle, work };
    const say = (what: string) => process.stderr.write(`skiff bench: ${what}…\n`);
    say(`${o.count} containers through skiffd at concurrency ${o.concurrency} (${INCLUDES[o.lifecycle]})`);
    if (o.warmup > 0) await throughApi({ socket, rootfs, lifecycle: o.lifecycle, count: o.warmup, concurrency: o.concurrency, label: 'warmup' });
    main.push(await skiffRow(cx, o.lifecycle, o.count, o.concurrency, 'run'));
    for (const runtime of o.vs) {
      say(`${o.count} × ${runtime} at concurrency ${o.concurrency}`);
      main.push(await externalRow(cx, runtime, o.count, o.concurrency, o.warmup));
    }
    if (o.serial > 0) {
      say(`serial: ${o.serial} of each, one at a time`);
      serial.push(await skiffRow(cx, 'start', o.serial, 1, 'serial-start'));
      serial.push(await skiffRow(cx, o.lifecycle === 'start' ? 'rm' : o.lifecycle, o.serial, 1, 'serial-full'));
      for (const runtime of o.vs) serial.push(await externalRow(cx, runtime, o.serial, 1, Math.min(o.warmup, 5)));
    }
    await stopPoint(); // one asked for in the last row: no table of a row cut short
  } catch (err) {
    if (!(err instanceof BenchStopped)) throw err;
    // The containers of the row in hand are removed (through-api.ts), its files below.
    process.stderr.write(`skiff bench: ${err.message}; its containers and files removed\n`);
    return err.status;
  } finally {
    stopListening();
    rmSync(work, { recursive: true, force: true });
  }
  const load = { before, after: loadavg() };
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ count: o.count, concurrency: o.concurrency, lifecycle: o.lifecycle, cores: cpus().length, kernel: release(), loadAverage: load, unsettled: settling.unsettled, rows: main, serial }, null, 2)}\n`);
  } else {
    print(o, main, serial, load);
  }
  return [...main, ...serial].some((r) => r.failed > 0) ? 1 : 0;
}
