// Consoles at scale inside skiffd: 500 consoles on 2 forwarder threads, one of them flooding,
// while the API keeps answering; console counters in inspect and /metrics.
import { expect } from 'chai';
import { percentile } from '../../src/api/stats.js';
import { useDaemon } from '../support/daemon.js';
import { unlessStalled, until } from '../support/wait.js';

/** A request unanswered this long is a stall (the API waiting on the forwarder), not a slow answer. */
const STALL_S = 10;

describe('consoles in skiffd at scale', function () {
  this.timeout(180_000);
  const d = useDaemon(['--forwarder-threads', '2']);

  /**
   * `n` sequential GET /containers/json, each of which must be answered (a stall, not a slow
   * answer, fails it); returns the times taken, sorted, to print. A latency budget is
   * bench/'s to measure on a quiet machine, not a test's to assert on a shared one.
   */
  async function apiLatencies(n: number, what: string): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await unlessStalled(d.api('GET', '/containers/json'), STALL_S * 1000, `GET /containers/json (${what}, request ${i + 1} of ${n})`);
      expect(r.status).to.equal(200);
      out.push(performance.now() - t0);
    }
    return out.sort((a, b) => a - b);
  }

  it('500 consoles on 2 threads: the API answers while one console floods', async () => {
    const names = Array.from({ length: 500 }, (_, i) => `quiet-${i}`);
    for (let i = 0; i < names.length; i += 100) {
      const batch = names.slice(i, i + 100);
      await Promise.all(batch.map((n) => d.api('POST', `/containers/create?name=${n}`, { Image: 'host', Cmd: ['/bin/sleep', 'infinity'] })));
      const started = await Promise.all(batch.map((n) => d.api('POST', `/containers/${n}/start`)));
      expect(started.every((r) => r.status === 204)).to.equal(true);
    }
    const idle = await apiLatencies(200, 'idle');
    await d.api('POST', '/containers/create?name=flood', { Image: 'host', Cmd: ['/usr/bin/yes', 'flooding the console'], Skiff: { Console: { buffer: 65536 } } });
    expect((await d.api('POST', '/containers/flood/start')).status).to.equal(204);
    // The flood is on: its console's byte count climbs.
    const bytes = async () => (await d.inspect('flood')).Skiff.console?.bytesIn ?? 0;
    const b0 = await bytes();
    await until(async () => (await bytes()) > b0 + (1 << 20), 'the flood to run');
    // The API waiting on the forwarder would stall these: each must be answered, however slowly.
    const loaded = await apiLatencies(200, 'one console flooding');
    const flooded = await bytes();
    process.stdout.write(`      GET /containers/json over 500 consoles: p50 ${percentile(idle, 50).toFixed(2)} ms, p99 ${percentile(idle, 99).toFixed(2)} ms idle; `
      + `p50 ${percentile(loaded, 50).toFixed(2)} ms, p99 ${percentile(loaded, 99).toFixed(2)} ms with one console flooding (${(flooded / 2 ** 20).toFixed(0)} MiB forwarded)\n`);

    const metrics = (await d.api('GET', '/metrics')).text;
    expect(metrics).to.match(/skiff_console_bytes_in \d+/);
    expect(metrics).to.match(/skiff_console_ring_dropped [1-9]\d*/);
    expect(metrics).to.include('skiff_containers_running 501');
    await d.api('POST', '/containers/flood/kill');
  });
});
