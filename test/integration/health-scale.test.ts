// 500 containers, each with a health check every second: skiffd schedules them on one timer
// wheel, so probes spread over the interval instead of firing together, and its CPU stays
// bounded (probes beyond its in-flight limit wait instead of piling up). The figures are
// printed (the probe rate, each container's real interval from one probe's start to the next,
// skiffd's, the launchers' and the probes' CPU); the assertions are only against a stall (every
// container becomes healthy, and each is probed at least twice in a 30 s window: a 1 s check
// that is not has stalled) and against a burst (every tenth of the second sees probes start).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { FleetView } from '../../src/api/fleets.js';
import { useDaemon } from '../support/daemon.js';
import { useTempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';

const COUNT = 500;
const WINDOW_MS = 30_000;
/** probes each container must have had in the window: far fewer than its 1 s interval asks */
const AT_LEAST = 2;
const TICKS_PER_SECOND = 100; // USER_HZ, what /proc/<pid>/stat counts in

/** utime + stime of a process (with `reaped`, its reaped children's cutime + cstime instead), in seconds. */
function cpuSeconds(pid: number, reaped = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [a, b] = reaped ? [13, 14] : [11, 12];
  return (Number(fields[a]) + Number(fields[b])) / TICKS_PER_SECOND;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function childrenCpu(pids: number[]): number {
  let total = 0;
  for (const p of pids) {
    try {
      total += cpuSeconds(p) + cpuSeconds(p, true); // with the clones it launched through
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

describe('health checks at scale', function () {
  this.timeout(600_000);
  // SKIFF_TEST_HEALTH_PROBES=N measures with `--health-probes N` instead of the default.
  const probesFlag = process.env.SKIFF_TEST_HEALTH_PROBES;
  const d = useDaemon(probesFlag ? ['--health-probes', probesFlag] : []);
  const tmp = useTempDirs();

  it(`${COUNT} containers with a 1 s health check: probes spread over the second, skiffd's CPU bounded`, async () => {
    const file = join(tmp.make('hscale'), 'hscale.yaml');
    writeFileSync(file, [
      'services:',
      '  web:',
      '    image: host',
      '    command: [/bin/sleep, "3600"]',
      `    deploy: { replicas: ${COUNT} }`,
      '    healthcheck: { test: [CMD, /bin/true], interval: 1s }',
      '',
    ].join('\n'));
    const up = await d.cli(['fleet', 'up', file], { timeoutMs: 300_000 });
    expect(up.code, up.stderr).to.equal(0);
    const view = async (): Promise<FleetView> => (await d.api('GET', '/fleets/hscale?containers=0')).body as FleetView;
    await until(async () => (await view()).totals.healthy === COUNT, `all ${COUNT} containers to be healthy`, 300_000, 250);

    const launchers = () => execFileSync('ps', ['-o', 'pid=', '--ppid', String(d.pid)]).toString().trim().split(/\s+/).map(Number)
      .filter((p) => d.isLauncher(p));
    const probes = async (): Promise<number> => Number(/^skiff_health_probes_total (\d+)$/m.exec((await d.api('GET', '/metrics')).text)?.[1]);
    const t0 = performance.now();
    // skiffd's reaped children are the probes' processes (the containers' PID 1s still run).
    const [cpu0, probeCpu0, launch0, probes0] = [cpuSeconds(d.pid), cpuSeconds(d.pid, true), childrenCpu(launchers()), await probes()];
    const windowStart = Date.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const [cpu1, probeCpu1, launch1, probes1] = [cpuSeconds(d.pid), cpuSeconds(d.pid, true), childrenCpu(launchers()), await probes()];
    const elapsed = (performance.now() - t0) / 1000;

    // From every container's last five probes: how many started in the window, where in the
    // second each started, and the time from one probe's start to the next.
    const buckets = new Array<number>(10).fill(0);
    const probedTooLittle: string[] = [];
    const gaps: number[] = [];
    const list = (await d.api('GET', '/containers/json')).body as { Names: string[] }[];
    for (const c of list) {
      const name = c.Names[0]!.slice(1);
      const log = ((await d.inspect<{ State: { Health: { Log: { Start: string }[] } } }>(name)).State.Health.Log);
      const all = log.map((e) => Date.parse(e.Start)).sort((a, b) => a - b);
      for (let i = 1; i < all.length; i++) gaps.push((all[i]! - all[i - 1]!) / 1000);
      const starts = all.filter((t) => t >= windowStart);
      if (starts.length < AT_LEAST) probedTooLittle.push(`${name} (${starts.length})`);
      for (const t of starts) buckets[Math.floor((t % 1000) / 100)]!++;
    }
    gaps.sort((a, b) => a - b);
    const mean = gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length);
    const n = probes1 - probes0;
    const pct = (a: number, b: number) => ((100 * (b - a)) / elapsed).toFixed(1);
    const perProbe = (a: number, b: number) => ((1000 * (b - a)) / Math.max(1, n)).toFixed(2);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    process.stdout.write(`      ${COUNT} containers, 1 s interval, --health-probes ${probesFlag ?? 'default'}, ${elapsed.toFixed(1)} s window: ${n} probes (${(n / elapsed).toFixed(0)}/s)`
      + `; each container's probe start to next: mean ${mean.toFixed(2)} s, p10 ${quantile(gaps, 0.1).toFixed(2)}, p50 ${quantile(gaps, 0.5).toFixed(2)}, p90 ${quantile(gaps, 0.9).toFixed(2)}, max ${quantile(gaps, 1).toFixed(2)}`
      + `; CPU: skiffd ${pct(cpu0, cpu1)}% of a core (${perProbe(cpu0, cpu1)} ms a probe), launchers ${pct(launch0, launch1)}% (${perProbe(launch0, launch1)} ms),`
      + ` the probes' processes ${pct(probeCpu0, probeCpu1)}% (${perProbe(probeCpu0, probeCpu1)} ms)`
      + `; probe starts per 100 ms of the second ${buckets.join(' ')}; load ${load}\n`);

    // Against a stall: probing went on for every container during the window.
    expect(probedTooLittle, `containers probed fewer than ${AT_LEAST} times in ${WINDOW_MS / 1000} s`).to.deep.equal([]);
    // Against a burst: each tenth of the second had probes start in it.
    expect(buckets.filter((n) => n === 0), `probe starts per 100 ms: ${buckets.join(' ')}`).to.deep.equal([]);
  });
});
