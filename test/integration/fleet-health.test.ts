// Fleets with health checks, end to end with real containers: `depends_on: condition:
// service_healthy` holds a service back until its dependency's check passes (read from the
// start times and the health_status event), `fleet up --wait` waits for every check and reports
// the unhealthy (exit 1), and x-skiff.restart_on_unhealthy hands an unhealthy container to its
// restart policy.
import { expect } from 'chai';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DockerEvent } from '../../src/main/events.js';
import { useDaemon, type CliResult } from '../support/daemon.js';
import { useTempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';

interface Inspect {
  State: { Running: boolean; StartedAt: string; Health?: { Status: string; FailingStreak: number } };
  RestartCount: number;
}

describe('fleets with health checks', function () {
  this.timeout(120_000);
  const d = useDaemon();
  const tmp = useTempDirs();
  let dir: string;

  before(() => {
    dir = tmp.make('fleet-health');
  });
  afterEach(async () => {
    const fleets = (await d.api('GET', '/fleets')).body as { name: string }[];
    await Promise.all(fleets.map((f) => d.api('DELETE', `/fleets/${f.name}`)));
  });

  const write = (name: string, lines: string[]): string => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const show = (r: CliResult): string => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  const events = (action: string, name: string): Promise<DockerEvent[]> => d.eventsSoFar({ event: [action], container: [name] });

  it('api (service_healthy on db) starts only once db is healthy; up --wait returns when both are healthy', async () => {
    const file = write('hf', [
      'services:',
      '  db:',
      '    image: host',
      '    command: [/bin/sh, -c, "sleep 2; touch /tmp/ready; exec sleep 600"]',
      '    healthcheck:',
      '      test: test -e /tmp/ready',
      '      interval: 1s',
      '      start_period: 60s',
      '      start_interval: 200ms',
      '  api:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    healthcheck: { test: [CMD, /bin/true], interval: 200ms }',
      '    depends_on:',
      '      db: { condition: service_healthy }',
    ]);
    const up = await d.cli(['fleet', 'up', '--wait', file], { timeoutMs: 90_000 });
    expect(up.code, show(up)).to.equal(0);
    expect(up.stdout).to.match(/^hf: 2 created · 0 replaced · 0 started again · 0 removed · 0 unchanged — 2 running, 0 failed \(\d+\.\d s\)\nhealth: 2 healthy · 0 unhealthy · 0 starting\n$/);

    const db = await d.inspect<Inspect>('hf-db-1');
    const api = await d.inspect<Inspect>('hf-api-1');
    expect([db.State.Health?.Status, api.State.Health?.Status]).to.deep.equal(['healthy', 'healthy']);
    const dbHealthy = await events('health_status', 'hf-db-1');
    expect(dbHealthy.map((e) => e.Action)).to.deep.equal(['health_status: healthy']);
    const healthyAt = dbHealthy[0]!.timeNano / 1e6;
    const apiStarted = Date.parse(api.State.StartedAt);
    // db made /tmp/ready 2 s after its start; api's start came after db was seen healthy.
    expect(healthyAt - Date.parse(db.State.StartedAt), 'db healthy after its 2 s').to.be.at.least(2000);
    expect(apiStarted, `api started ${apiStarted - healthyAt} ms after db was healthy`).to.be.at.least(Math.floor(healthyAt));

    const status = await d.cli(['fleet', 'status', file]);
    expect(status.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).to.deep.equal([
      'SERVICE DESIRED RUNNING HEALTH EXITED(code:n) FAILED PENDING', 'db 1 1 1/1 healthy - 0 0', 'api 1 1 1/1 healthy - 0 0', '']);
  });

  it('a check that never passes: db is unhealthy after its retries, api is not started, up --wait reports both and exits 1', async () => {
    const file = write('hf2', [
      'services:',
      '  db:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    healthcheck: { test: "echo not yet; exit 1", interval: 100ms, retries: 3 }',
      '  api:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    depends_on: { db: { condition: service_healthy } }',
    ]);
    const up = await d.cli(['fleet', 'up', '--wait', file], { timeoutMs: 90_000 });
    expect(up.code, show(up)).to.equal(1);
    const lines = up.stdout.split('\n');
    expect(lines[0]).to.match(/^hf2: 2 created · .* — 1 running, 1 failed /);
    expect(lines[1]).to.equal('health: 0 healthy · 1 unhealthy · 0 starting');
    expect(lines[2]).to.equal('failures (2):');
    expect(lines.slice(3, 5).sort()).to.deep.equal([
      '  hf2-api-1: not started: dependency db is not healthy (hf2-db-1 is unhealthy after 3 failed probes; the last exited 1: not yet)',
      lines.find((l) => l.startsWith('  hf2-db-1: '))!,
    ].sort());
    expect(lines.find((l) => l.startsWith('  hf2-db-1: '))).to.match(/^ {2}hf2-db-1: unhealthy: \d+ probes failed in a row; the last exited 1: not yet$/);
    const db = await d.inspect<Inspect>('hf2-db-1');
    expect(db.State.Health!.FailingStreak).to.be.at.least(3);
    expect(db.RestartCount).to.equal(0); // without restart_on_unhealthy an unhealthy container runs on, as in Docker
    const api = await d.inspect<Inspect & { State: { Status: string } }>('hf2-api-1');
    expect([api.State.Status, api.State.StartedAt]).to.deep.equal(['created', '0001-01-01T00:00:00Z']);
  });

  it('up --wait-timeout: gives up when the time is up, names what is not ready, exits 1 and leaves the fleet up', async () => {
    // db's check cannot pass (and its start period keeps it `starting`); api waits on it.
    const file = write('hft', [
      'services:',
      '  db:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    healthcheck: { test: "exit 1", interval: 200ms, start_period: 600s }',
      '  api:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    depends_on: { db: { condition: service_healthy } }',
      '  cache:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
    ]);
    const up = await d.cli(['fleet', 'up', '--wait-timeout', '2', file], { timeoutMs: 60_000 });
    expect(up.code, show(up)).to.equal(1);
    expect(up.stderr.split('\n').filter((l) => !l.startsWith('hft')).join('\n')).to.equal([
      'skiff: fleet hft is not ready after --wait-timeout 2s (it is left up):',
      '  db: 0 of 1 healthy (1 health: starting)',
      '  api: 0 of 1 running (1 created)',
      '',
    ].join('\n'));
    // Left as it was: db runs (still starting), api waits, cache runs.
    const db = await d.inspect<Inspect>('hft-db-1');
    expect([db.State.Running, db.State.Health?.Status]).to.deep.equal([true, 'starting']);
    expect((await d.inspect<Inspect>('hft-cache-1')).State.Running).to.equal(true);
    expect((await d.inspect<Inspect & { State: { Status: string } }>('hft-api-1')).State.Status).to.equal('created');
  });

  it('up --wait-timeout refuses 0, -1 and abc as usage errors naming the value, before anything is created', async () => {
    const file = write('hfv', ['services:', '  db:', '    image: host', '    command: [/bin/sleep, "600"]']);
    for (const value of ['0', '-1', 'abc']) {
      const r = await d.cli(['fleet', 'up', '--wait-timeout', value, file]);
      expect(r.code, show(r)).to.equal(2);
      expect(r.stderr.split('\n')[0]).to.equal(`skiff fleet: --wait-timeout: expected a whole number of seconds, at least 1, got "${value}"`);
    }
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
  });

  it('x-skiff.restart_on_unhealthy: an unhealthy container is stopped and its restart policy starts it again', async () => {
    const file = write('hf3', [
      'services:',
      '  flaky:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    restart: always',
      '    stop_grace_period: 200ms',
      '    healthcheck: { test: "exit 1", interval: 100ms, retries: 2 }',
      '    x-skiff: { restart_on_unhealthy: true }',
    ]);
    const up = await d.cli(['fleet', 'up', file]);
    expect(up.code, show(up)).to.equal(0);
    await until(async () => (await d.inspect<Inspect>('hf3-flaky-1')).RestartCount >= 1, 'the unhealthy container to be restarted');
    const kills = await events('kill', 'hf3-flaky-1');
    expect(kills.length).to.be.at.least(1);
    expect(kills[0]!.Actor.Attributes.signal).to.equal('15');
    expect((await events('restart', 'hf3-flaky-1')).length).to.be.at.least(1);
    await until(async () => (await d.inspect<Inspect>('hf3-flaky-1')).State.Running, 'it to run again');
  });

  it('bad health settings in a fleet file: exit 2 at the line, nothing created', async () => {
    const file = write('hf4', [
      'services:',
      '  db:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    healthcheck: { test: [HTTP, /], interval: 1s }',
    ]);
    const up = await d.cli(['fleet', 'up', file]);
    expect([up.code, up.stderr]).to.deep.equal([2,
      `skiff: ${file}:5:27 services.db.healthcheck.test[0]: must be CMD or CMD-SHELL (or NONE to disable an image's check), got "HTTP"\n`]);
    const neg = write('hf5', [
      'services:',
      '  db:',
      '    image: host',
      '    command: [/bin/sleep, "600"]',
      '    healthcheck: { test: "true", interval: -5s }',
    ]);
    const up2 = await d.cli(['fleet', 'up', neg]);
    expect([up2.code, up2.stderr]).to.deep.equal([2, `skiff: ${neg}:5:44 services.db.healthcheck.interval: a duration must not be negative, got "-5s"\n`]);
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
    expect(readdirSync(d.stateDir).filter((e) => e !== '.skiffd')).to.deep.equal([]);
  });
});
