// Fleet files with health checks: Compose's `healthcheck:` (string and list tests, durations,
// disable), `depends_on: condition: service_healthy`, and skiff's x-skiff.restart_on_unhealthy;
// each mistake refused at its line:column before any Fleet exists. The POST /fleets body is
// checked again by skiffd (request.ts).
import { expect } from 'chai';
import { FleetError, parseFleet } from '../../src/compose/fleet.js';
import { validateFleetRequest } from '../../src/main/fleets/request.js';
import { fleetRequestBody } from '../../src/api/fleet-wire.js';
import { fleetView } from '../../src/main/fleets/view.js';
import { newRecord } from '../../src/main/lifecycle/record.js';
import { summarize, formatSummary } from '../../src/cli/fleet-summary.js';

function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** A fleet of `db` (with `dbExtra`) and `api` (with `apiExtra`). */
function fleet(dbExtra: string[], apiExtra: string[] = []): string {
  return yaml('services:', '  db:', '    image: host', '    command: [/bin/sleep, "60"]', ...dbExtra.map((l) => `    ${l}`),
    '  api:', '    image: host', '    command: [/bin/sleep, "60"]', ...apiExtra.map((l) => `    ${l}`));
}

function refuse(text: string, message: string): void {
  expect(() => parseFleet(text, 'fleet.yaml')).to.throw(FleetError).with.property('message', message);
}

describe('fleet files: health checks', () => {
  it('reads a string test as CMD-SHELL, durations to milliseconds, and service_healthy', () => {
    const f = parseFleet(fleet(['healthcheck:', '  test: test -e /tmp/ready', '  interval: 500ms', '  timeout: 2s', '  retries: 5',
      '  start_period: 1m', '  start_interval: 100ms'], ['depends_on:', '  db: { condition: service_healthy }']), 'fleet.yaml');
    expect(f.services[0]!.specs[0]!.healthcheck).to.deep.equal({
      test: ['CMD-SHELL', 'test -e /tmp/ready'], intervalMs: 500, timeoutMs: 2000, retries: 5, startPeriodMs: 60_000, startIntervalMs: 100,
    });
    expect(f.services[1]!.dependsOn).to.deep.equal([{ service: 'db', condition: 'service_healthy' }]);
    expect(f.services[1]!.specs[0]!.healthcheck).to.equal(null);
    // skiffd reads the same fleet back
    expect(validateFleetRequest(JSON.parse(JSON.stringify(fleetRequestBody(f))), 1000).services[0]!.specs[0]!.healthcheck)
      .to.deep.equal(f.services[0]!.specs[0]!.healthcheck);
  });

  it('reads Docker\'s list forms and Docker\'s defaults; disable and NONE mean none', () => {
    const cmd = parseFleet(fleet(['healthcheck:', '  test: [CMD, /bin/true, "1"]', '  interval: 0s', '  retries: 0']), 'fleet.yaml');
    expect(cmd.services[0]!.specs[0]!.healthcheck).to.deep.equal({
      test: ['CMD', '/bin/true', '1'], intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0, startIntervalMs: 5000,
    });
    for (const off of [['healthcheck:', '  disable: true'], ['healthcheck:', '  test: [NONE]']]) {
      expect(parseFleet(fleet(off), 'fleet.yaml').services[0]!.specs[0]!.healthcheck).to.equal(null);
    }
  });

  it('a health check changes the config hash; a service without one keeps the hash it had before health checks', () => {
    const plain = parseFleet(fleet([]), 'fleet.yaml').services[0]!.configHash;
    const checked = parseFleet(fleet(['healthcheck: { test: "true" }']), 'fleet.yaml').services[0]!.configHash;
    expect(checked).to.not.equal(plain);
    // the hash of `db` as skiff computed it before specs had healthcheck and restartOnUnhealthy (main at c64a63b)
    expect(plain).to.equal('7b73b5a5ccc8bf6a4add7b77fd320588b2649f17ed832d0838c614d607db6941');
  });

  it('refuses each mistake at its place', () => {
    refuse(fleet(['healthcheck:', '  test: [CMDX, x]']), 'fleet.yaml:6:14 services.db.healthcheck.test[0]: must be CMD or CMD-SHELL (or NONE to disable an image\'s check), got "CMDX"');
    refuse(fleet(['healthcheck:', '  test: [CMD-SHELL, a, b]']), 'fleet.yaml:6:13 services.db.healthcheck.test: CMD-SHELL takes one command string: ["CMD-SHELL", command], got 2 items after it');
    refuse(fleet(['healthcheck:', '  test: ""']), 'fleet.yaml:6:13 services.db.healthcheck.test: the command is empty');
    refuse(fleet(['healthcheck:', '  test: "true"', '  interval: -1s']), 'fleet.yaml:7:17 services.db.healthcheck.interval: a duration must not be negative, got "-1s"');
    refuse(fleet(['healthcheck:', '  test: "true"', '  timeout: 10']), 'fleet.yaml:7:16 services.db.healthcheck.timeout: expected a duration with a unit, such as 10s or 1m30s, got 10');
    refuse(fleet(['healthcheck:', '  test: "true"', '  timeout: 10us']), 'fleet.yaml:7:16 services.db.healthcheck.timeout: expected 0 (the default) or at least 1ms, got "10us"');
    refuse(fleet(['healthcheck:', '  test: "true"', '  retries: -3']), 'fleet.yaml:7:16 services.db.healthcheck.retries: must not be negative, got -3');
    refuse(fleet(['healthcheck:', '  test: "true"', '  intreval: 1s']), 'fleet.yaml:7:7 services.db.healthcheck.intreval: unknown key, did you mean "interval"?');
    refuse(fleet(['healthcheck:', '  interval: 1s']), 'fleet.yaml:6:7 services.db.healthcheck: has no test: give the command to run (test: curl -f http://localhost/ || exit 1) or disable: true');
    refuse(fleet(['healthcheck:', '  disable: true', '  test: "true"']), 'fleet.yaml:7:7 services.db.healthcheck.test: a disabled health check (disable: true) takes no other settings');
    refuse(fleet([], ['depends_on:', '  db: { condition: service_healthy }']),
      'fleet.yaml:9:7 services.api.depends_on.db: service_healthy: "db" has no health check to pass (add healthcheck: to it, or use service_started)');
    refuse(fleet(['restart: always', 'x-skiff: { restart_on_unhealthy: true }']),
      'fleet.yaml:6:38 services.db.x-skiff.restart_on_unhealthy: restart_on_unhealthy needs a health check: add healthcheck: to the service');
    refuse(fleet(['healthcheck: { test: "true" }', 'x-skiff: { restart_on_unhealthy: true }']),
      'fleet.yaml:6:38 services.db.x-skiff.restart_on_unhealthy: restart_on_unhealthy stops an unhealthy container for its restart policy to start again; set restart: always, unless-stopped or on-failure');
  });

  it('skiffd refuses service_healthy on a service without a health check, and an unknown condition', () => {
    const f = parseFleet(fleet(['healthcheck: { test: "true" }'], ['depends_on:', '  db: { condition: service_healthy }']), 'fleet.yaml');
    const body = JSON.parse(JSON.stringify(fleetRequestBody(f))) as { services: { template: { healthcheck: unknown }; dependsOn: { condition: string }[] }[] };
    body.services[0]!.template.healthcheck = null;
    expect(() => validateFleetRequest(body, 1000)).to.throw('services[1].dependsOn[0].condition is service_healthy, but "db" has no health check');
    body.services[1]!.dependsOn[0]!.condition = 'service_ready';
    expect(() => validateFleetRequest(body, 1000)).to.throw('services[1].dependsOn[0].condition must be service_started or service_healthy or service_completed_successfully, got "service_ready"');
  });

  it('the fleet view counts healthy, unhealthy and starting replicas; --wait\'s summary makes the unhealthy failures, with their last probe', () => {
    const f = parseFleet(fleet(['deploy: { replicas: 3 }', 'healthcheck: { test: "true" }']), 'fleet.yaml');
    const [a, b, c] = f.services[0]!.specs.map((spec) => newRecord(spec, { fleet: 'fleet' }));
    const api = newRecord(f.services[1]!.specs[0]!, { fleet: 'fleet' });
    for (const r of [a!, b!, c!, api]) Object.assign(r, { status: 'running', pid: 1, startedAt: new Date(0).toISOString() });
    a!.health = { status: 'healthy', failingStreak: 0, log: [] };
    b!.health = { status: 'unhealthy', failingStreak: 3, log: [{ start: '', end: '', exitCode: 7, output: 'connection refused\nmore' }] };
    // c: no probe yet (health absent: starting); api has no check at all
    const view = fleetView('fleet', [a!, b!, c!, api], null, { containers: 'all' });
    expect(view.totals).to.include({ running: 4, healthy: 1, unhealthy: 1, healthStarting: 1 });
    expect(view.services[1]).to.include({ name: 'db', healthy: 1, unhealthy: 1, healthStarting: 1 });
    const containers = view.services[1]!.containers!;
    expect(containers.map((x) => [x.name, x.health, x.error])).to.deep.equal([
      ['fleet-db-1', 'healthy', null],
      ['fleet-db-2', 'unhealthy', '3 probes failed in a row; the last exited 7: connection refused'],
      ['fleet-db-3', 'starting', null],
    ]);
    expect(view.services[0]!.containers![0]!.health).to.equal(null);
    const plan = { create: 4, replace: 0, start: 0, keep: 0, remove: 0 };
    const waited = summarize(view, plan, 1500, new Set(), new Set(['db']));
    expect([waited.ok, waited.failures.map((x) => [x.name, x.error])]).to.deep.equal([false,
      [['fleet-db-2', 'unhealthy: 3 probes failed in a row; the last exited 7: connection refused']]]);
    expect(formatSummary(waited)).to.equal([
      'fleet: 4 created · 0 replaced · 0 started again · 0 removed · 0 unchanged — 4 running, 0 failed (1.5 s)',
      'health: 1 healthy · 1 unhealthy · 1 starting',
      'failures (1):',
      '  fleet-db-2: unhealthy: 3 probes failed in a row; the last exited 7: connection refused',
      '',
    ].join('\n'));
    // without --wait, health is reported but decides nothing
    expect(summarize(view, plan, 1500, null).ok).to.equal(true);
    // What `fleet up` asks for (?containers=not-running): the same counts, and of the
    // containers only those a summary reports on; its failures are the same.
    Object.assign(c!, { status: 'exited', exitCode: 3, pid: null, finishedAt: new Date(1000).toISOString() });
    const full = fleetView('fleet', [a!, b!, c!, api], null, { containers: 'all' });
    const some = fleetView('fleet', [a!, b!, c!, api], null, { containers: 'not-running' });
    expect(some.totals).to.deep.equal(full.totals);
    expect(some.services.map((s) => s.containers!.map((x) => x.name))).to.deep.equal([[], ['fleet-db-2', 'fleet-db-3']]);
    const said = (v: typeof full) => {
      const { ok, failures, totals, jobs } = summarize(v, plan, 1500, new Set(), new Set(['db']));
      return { ok, failures, totals, jobs };
    };
    expect(said(some)).to.deep.equal(said(full));
    expect(fleetView('fleet', [a!, b!, c!, api], null, { containers: 'none' }).services.every((s) => s.containers === undefined)).to.equal(true);
  });
});
