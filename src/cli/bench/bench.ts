// `skiff bench`: N containers of /bin/true started through skiffd's API (create + start, C at a
// time), and with --vs the same number of `runc run` / `crun run` in the same run, on an
// equivalent busybox bundle. Latency is the start request accepted → PID 1 exec'd (skiffd
// answers the start once the init has exec'd); the references are timed per run by bash.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRootfs, writeOciBundle } from './bundle.js';
import { runExternalWithWarmup, type ExternalPlan, type Sample } from './external.js';
import { call, DaemonError } from '../client.js';
import { formatTable } from '../table.js';
import { percentile } from '../../api/stats.js';

export interface BenchOptions {
  count: number;
  concurrency: number;
  vs: ('runc' | 'crun')[];
  json: boolean;
  warmup: number;
}

interface Row {
  runtime: string;
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  failed: number;
  firstError: string | null;
}

function row(runtime: string, s: Sample): Row {
  const sorted = [...s.latenciesMs].sort((a, b) => a - b);
  const done = s.latenciesMs.length;
  return {
    runtime, count: done, seconds: s.wallMs / 1000, perSecond: done / (s.wallMs / 1000),
    p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), failed: s.failed, firstError: s.firstError,
  };
}

/** create + start through the API, `concurrency` requests in flight; then the containers are removed. */
async function throughSkiffd(o: BenchOptions, rootfs: string, label: string, count: number): Promise<Sample> {
  const names: string[] = [];
  const latenciesMs: number[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  // Network none, as `skiff run` defaults to (a Docker API create that names no network joins
  // bridge): the runtimes it is compared with start without a network too.
  const body = { Image: 'host', Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none' }, Skiff: { Rootfs: rootfs, Console: { buffer: 4096 } } };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    for (let i = next++; i < count; i = next++) {
      const name = `bench-${label}-${process.pid}-${i}`;
      names.push(name);
      try {
        await call('POST', `/containers/create?name=${name}`, body);
        const a = performance.now();
        await call('POST', `/containers/${name}/start`);
        latenciesMs.push(performance.now() - a);
      } catch (err) {
        failed++;
        firstError ??= err instanceof DaemonError ? err.message : (err as Error).message;
      }
    }
  }));
  const wallMs = performance.now() - t0;
  // Clean up outside the measured time, a bounded number at once.
  for (let i = 0; i < names.length; i += 64) {
    await Promise.all(names.slice(i, i + 64).map((n) => call('DELETE', `/containers/${n}?force=1`).catch(() => undefined)));
  }
  return { latenciesMs, wallMs, failed, firstError };
}

export async function bench(o: BenchOptions): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  const rows: Row[] = [];
  try {
    const rootfs = buildRootfs(join(work, 'rootfs'));
    process.stderr.write(`skiff bench: ${o.count} containers through skiffd at concurrency ${o.concurrency}…\n`);
    if (o.warmup > 0) await throughSkiffd(o, rootfs, 'warmup', o.warmup);
    rows.push(row('skiff (API)', await throughSkiffd(o, rootfs, 'run', o.count)));
    if (o.vs.length) {
      const bundle = writeOciBundle(join(work, 'bundle'), rootfs);
      for (const runtime of o.vs) {
        process.stderr.write(`skiff bench: ${o.count} × ${runtime} run at concurrency ${o.concurrency}…\n`);
        const p: ExternalPlan = { runtime, count: o.count, concurrency: o.concurrency, bundle, stateRoot: join(work, `${runtime}-state`), dir: join(work, runtime) };
        rows.push(row(runtime, await runExternalWithWarmup(p, o.warmup)));
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const skiff = rows[0]!;
  const ratios = Object.fromEntries(rows.slice(1).map((r) => [`skiff/${r.runtime}`, skiff.perSecond / r.perSecond]));
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ count: o.count, concurrency: o.concurrency, cores: cpus().length, kernel: release(), rows, ratios }, null, 2)}\n`);
  } else {
    process.stdout.write(`skiff bench: ${o.count} containers of /bin/true (busybox rootfs), concurrency ${o.concurrency}, ${cpus().length} cores, kernel ${release()}\n`);
    process.stdout.write('latency: skiff = start request → PID 1 exec\'d; runc/crun = one `run` (create, start, exit)\n\n');
    process.stdout.write(formatTable(['RUNTIME', 'CONTAINERS/S', 'P50 MS', 'P90 MS', 'P99 MS', 'FAILED'],
      rows.map((r) => [r.runtime, r.perSecond.toFixed(1), r.p50.toFixed(2), r.p90.toFixed(2), r.p99.toFixed(2), String(r.failed)])));
    for (const [k, v] of Object.entries(ratios)) process.stdout.write(`${k}: ${v.toFixed(2)}x\n`);
    for (const r of rows) if (r.firstError) process.stdout.write(`${r.runtime}: first error: ${r.firstError}\n`);
  }
  return rows.some((r) => r.failed > 0) ? 1 : 0;
}
