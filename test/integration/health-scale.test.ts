// 500 containers, each with a health check every second: skiffd schedules them on one timer
// wheel, so probes spread over the interval instead of firing together, and its CPU stays
// bounded (probes beyond its in-flight limit wait instead of piling up). The figures are
// printed; the assertions are only against a stall (every container becomes healthy, probing
// goes on) and against a burst (every tenth of the second sees probes start).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { FleetView } from '../../src/api/fleets.js';
import { useDaemon } from '../support/daemon.js';
import { useTempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';

const COUNT = 500;
const WINDOW_MS = 10_000;
const TICKS_PER_SECOND = 100; // USER_HZ, what /proc/<pid>/stat counts in

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function childrenCpu(pids: number[]): number {
  let total = 0;
  for (const p of pids) {
    try {
      total += cpuSeconds(p);
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
    const [cpu0, launch0, probes0] = [cpuSeconds(d.pid), childrenCpu(launchers()), await probes()];
    const windowStart = Date.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const [cpu1, launch1, probes1] = [cpuSeconds(d.pid), childrenCpu(launchers()), await probes()];
    const elapsed = (performance.now() - t0) / 1000;

    // Where in the second each probe of the window started, from every container's last five.
    const buckets = new Array<number>(10).fill(0);
    let stale = 0;
    const list = (await d.api('GET', '/containers/json')).body as { Names: string[] }[];
    for (const c of list) {
      const log = ((await d.inspect<{ State: { Health: { Log: { Start: string }[] } } }>(c.Names[0]!.slice(1))).State.Health.Log);
      const starts = log.map((e) => Date.parse(e.Start)).filter((t) => t >= windowStart);
      if (starts.length === 0) stale++;
      for (const t of starts) buckets[Math.floor((t % 1000) / 100)]!++;
    }
    const rate = (probes1 - probes0) / elapsed;
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    // Each probe is an exec through a launcher; at most one per core runs at once, so on a small
    // machine a container is probed less often than its interval asks: printed, not asserted.
    process.stdout.write(`      ${COUNT} containers, 1 s interval, --health-probes ${probesFlag ?? 'default'}, ${elapsed.toFixed(1)} s window: ${probes1 - probes0} probes (${rate.toFixed(0)}/s,`
      + ` each container every ${((COUNT * elapsed) / Math.max(1, probes1 - probes0)).toFixed(1)} s)`
      + `; skiffd CPU ${((100 * (cpu1 - cpu0)) / elapsed).toFixed(1)}% of a core, launchers ${((100 * (launch1 - launch0)) / elapsed).toFixed(1)}%`
      + `; probe starts per 100 ms of the second ${buckets.join(' ')}; containers with no probe in the window ${stale}; load ${load}\n`);

    // Against a stall: probing went on for every container during the window.
    expect(stale, 'containers not probed at all in the window').to.equal(0);
    // Against a burst: each tenth of the second had probes start in it.
    expect(buckets.filter((n) => n === 0), `probe starts per 100 ms: ${buckets.join(' ')}`).to.deep.equal([]);
  });
});
