// Fleets end to end: `skiff fleet up|down|status|ls` against a real skiffd with real
// containers — the example fleet, no-op re-runs, replacing and removing services,
// dependencies, per-container failures, 500 containers, 200 jobs with --wait, bad files,
// and a daemon restart in the middle.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FleetView } from '../../src/api/fleets.js';
import { useDaemon, withDaemon, type CliResult } from '../support/daemon.js';
import { useTempDirs } from '../support/tmp.js';

const ROOT = join(import.meta.dirname, '../..');

/** Gone, or a zombie of whoever adopted it (after a daemon restart that may be any reaper). */
function ended(pid: number | null): boolean {
  if (pid === null) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
const DEMO = join(ROOT, 'config/demo.yaml');

interface JsonSummary {
  ok: boolean;
  plan: { create: number; replace: number; start: number; keep: number; remove: number };
  jobs: { total: number; byExitCode: Record<string, number>; durationMs: { p50: number; p90: number; p99: number } | null } | null;
  failures: { name: string; status: string; exitCode: number | null; error: string | null }[];
}

describe('fleets (skiff fleet up|down|status|ls)', function () {
  this.timeout(120_000);
  const d = useDaemon();
  const tmp = useTempDirs();
  let dir: string;

  before(() => {
    dir = tmp.make('fleet');
  });
  // A failed test must not leave its fleet to the next one.
  afterEach(async () => {
    const fleets = (await d.api('GET', '/fleets')).body as { name: string }[];
    await Promise.all(fleets.map((f) => d.api('DELETE', `/fleets/${f.name}`)));
  });

  const ok = (r: CliResult, what: string): CliResult => {
    expect(r.code, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
    return r;
  };
  const fleet = async (name: string): Promise<FleetView> => {
    const r = await d.api('GET', `/fleets/${name}`);
    expect(r.status, r.text).to.equal(200);
    return r.body as FleetView;
  };
  const pids = async (name: string): Promise<Map<string, number | null>> =>
    new Map((await fleet(name)).services.flatMap((s) => s.containers ?? []).map((c) => [c.name, c.pid]));
  const write = (file: string, text: string): string => {
    const path = join(dir, file);
    writeFileSync(path, text);
    return path;
  };
  /** Nothing of the daemon's containers is left: no state dir, no process, no zombie, no mount. */
  const assertNothingLeft = (): void => {
    expect(readdirSync(d.stateDir).filter((e) => e !== '.skiffd'), 'state dirs').to.deep.equal([]);
    expect(d.children(), 'container processes').to.deep.equal([]);
    expect(d.zombies(), 'zombies').to.deep.equal([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8'), 'mounts').not.to.include(d.stateDir);
  };

  it('brings config/demo.yaml up, all running; a second up changes nothing (same pids); down leaves nothing', async () => {
    const up = ok(await d.cli(['fleet', 'up', DEMO]), 'fleet up');
    expect(up.stdout).to.match(/^demo: 4 created · 0 replaced · 0 started again · 0 removed · 0 unchanged — 4 running, 0 failed \(\d+\.\d s\)\n$/);
    // Not a terminal: progress comes as plain lines on stderr.
    expect(up.stderr).to.match(/^demo: 4\/4 started · 4 running · /m);
    const view = await fleet('demo');
    expect(view.services.map((s) => [s.name, s.desired, s.running])).to.deep.equal([['web', 3, 3], ['worker', 1, 1]]);
    const before = await pids('demo');
    expect([...before.values()].every((p) => typeof p === 'number' && existsSync(`/proc/${p}`))).to.equal(true);

    const again = ok(await d.cli(['fleet', 'up', DEMO]), 'second fleet up');
    expect(again.stdout).to.match(/^demo: 0 created · 0 replaced · 0 started again · 0 removed · 4 unchanged — 4 running, 0 failed/);
    expect(await pids('demo')).to.deep.equal(before);

    const status = ok(await d.cli(['fleet', 'status', DEMO]), 'status');
    expect(status.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).to.deep.equal([
      'SERVICE DESIRED RUNNING HEALTH EXITED(code:n) FAILED PENDING', 'web 3 3 - - 0 0', 'worker 1 1 - - 0 0', '']);
    const ls = ok(await d.cli(['fleet', 'ls']), 'ls');
    expect(ls.stdout).to.match(/^demo\s+2\s+4\s+4\s+0\s+0\s+-$/m);

    const down = ok(await d.cli(['fleet', 'down', DEMO]), 'down');
    expect(down.stdout).to.match(/^demo: removed 4 containers \(\d+\.\d s\)\n$/);
    assertNothingLeft();
    for (const pid of before.values()) expect(ended(pid), `pid ${pid} ended`).to.equal(true);
    expect((await d.api('GET', '/fleets/demo')).status).to.equal(404);
    expect(ok(await d.cli(['fleet', 'ls']), 'ls').stdout.trim().split('\n')).to.have.length(1);
  });

  it('replaces only the service whose definition changed, and removes only what is no longer declared', async () => {
    const file = (bCommand: string, withB = true, aReplicas = 2) => write('edit.yaml', `
name: edit
services:
  a:
    image: host
    command: [/bin/sleep, "1000"]
    deploy: { replicas: ${aReplicas} }
${withB ? `  b:
    image: host
    command: [/bin/sh, -c, 'trap "exit 0" TERM; ${bCommand} & wait']
    deploy: { replicas: 2 }` : ''}
`);
    ok(await d.cli(['fleet', 'up', file('sleep 1000')]), 'up');
    const first = await pids('edit');
    expect([...first.keys()].sort()).to.deep.equal(['edit-a-1', 'edit-a-2', 'edit-b-1', 'edit-b-2']);

    const edited = ok(await d.cli(['fleet', 'up', file('sleep 1001')]), 'up with b edited');
    expect(edited.stdout).to.match(/^edit: 0 created · 2 replaced · 0 started again · 0 removed · 2 unchanged — 4 running, 0 failed/);
    const second = await pids('edit');
    expect(second.get('edit-a-1')).to.equal(first.get('edit-a-1'));
    expect(second.get('edit-a-2')).to.equal(first.get('edit-a-2'));
    for (const n of ['edit-b-1', 'edit-b-2']) {
      expect(second.get(n)).to.be.a('number').and.not.equal(first.get(n));
      expect(ended(first.get(n)!), `old ${n} ended`).to.equal(true);
      const inspect = (await d.api('GET', `/containers/${n}/json`)).body as { Config: { Cmd: string[] } };
      expect(inspect.Config.Cmd.join(' ')).to.include('sleep 1001');
    }

    const removed = ok(await d.cli(['fleet', 'up', file('', false)]), 'up without b');
    expect(removed.stdout).to.match(/^edit: 0 created · 0 replaced · 0 started again · 2 removed · 2 unchanged — 2 running, 0 failed/);
    expect(await pids('edit')).to.deep.equal(new Map([['edit-a-1', first.get('edit-a-1')], ['edit-a-2', first.get('edit-a-2')]]));
    expect((await d.api('GET', '/containers/edit-b-1/json')).status).to.equal(404);
    expect(existsSync(join(d.stateDir, 'edit-b-1'))).to.equal(false);

    const scaled = ok(await d.cli(['fleet', 'up', file('', false, 1)]), 'up with a scaled down');
    expect(scaled.stdout).to.match(/ 1 removed · 1 unchanged — 1 running/);
    expect(await pids('edit')).to.deep.equal(new Map([['edit-a-1', first.get('edit-a-1')]]));

    ok(await d.cli(['fleet', 'down', '--name', 'edit']), 'down');
    assertNothingLeft();
  });

  it('one container failing to start never stops the others; a failed dependency leaves its dependents unstarted, saying why', async () => {
    const file = write('mixed.yaml', `
name: mixed
services:
  good:
    image: host
    command: [/bin/sleep, "1000"]
    deploy: { replicas: 3 }
  bad:
    image: host
    command: [/no/such/cmd]
    deploy: { replicas: 2 }
  prepare:
    image: host
    command: [/bin/sh, -c, 'exit 3']
    x-skiff: { job: true }
  after:
    image: host
    command: [/bin/true]
    depends_on: { prepare: { condition: service_completed_successfully } }
    x-skiff: { job: true }
  needs-bad:
    image: host
    command: [/bin/sleep, "1000"]
    depends_on: [bad]
`);
    const up = await d.cli(['fleet', 'up', '--wait', file]);
    expect(up.code, up.stderr).to.equal(1);
    expect(up.stdout).to.include('mixed: 8 created · 0 replaced · 0 started again · 0 removed · 0 unchanged — 3 running, 4 failed');
    const notFound = 'command `/no/such/cmd` not found: ENOENT \\(operation \\d+ execve\\)';
    expect(up.stdout).to.match(new RegExp(`^  mixed-bad-1: ${notFound}$`, 'm'));
    expect(up.stdout).to.match(new RegExp(`^  mixed-bad-2: ${notFound}$`, 'm'));
    expect(up.stdout).to.include('  mixed-prepare-1: exited with 3');
    expect(up.stdout).to.include('  mixed-after-1: not started: dependency prepare did not complete successfully (mixed-prepare-1 exited with 3)');
    expect(up.stdout).to.match(new RegExp(`^  mixed-needs-bad-1: not started: dependency bad did not start \\(mixed-bad-1: ${notFound}\\)$`, 'm'));
    const view = await fleet('mixed');
    const byName = new Map(view.services.flatMap((s) => s.containers ?? []).map((c) => [c.name, c]));
    expect(['mixed-good-1', 'mixed-good-2', 'mixed-good-3'].map((n) => byName.get(n)?.status)).to.deep.equal(['running', 'running', 'running']);
    expect(byName.get('mixed-after-1')?.status).to.equal('created');
    expect(byName.get('mixed-needs-bad-1')?.status).to.equal('created');
    ok(await d.cli(['fleet', 'down', file]), 'down');
    assertNothingLeft();
  });

  it('--wait on 200 jobs reports exactly the counts by exit code and the names of the failures', async () => {
    const file = write('jobs.yaml', `
name: jobs
services:
  job:
    image: host
    command: [/bin/sh, -c, 'echo "job $SKIFF_REPLICA"; exit $((SKIFF_REPLICA % 3))']
    deploy: { replicas: 200 }
    x-skiff: { job: true, console: { buffer: 4KiB } }
`);
    const expected = { 0: [] as string[], 1: [] as string[], 2: [] as string[] };
    for (let n = 1; n <= 200; n++) expected[(n % 3) as 0 | 1 | 2].push(`jobs-job-${n}`);
    const run = await d.cli(['fleet', 'up', '--wait', file], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stdout).to.include('jobs: 200/200 exited · by exit code 0:66 1:67 2:67\n');
    expect(run.stdout).to.match(/^duration: p50 \d+ ms · p90 \d+ ms · p99 \d+ ms$/m);
    expect(run.stdout).to.include('failures (134):\n');
    for (const n of expected[1]) expect(run.stdout).to.include(`  ${n}: exited with 1\n`);
    for (const n of expected[2]) expect(run.stdout).to.include(`  ${n}: exited with 2\n`);
    for (const n of expected[0]) expect(run.stdout).not.to.include(`  ${n}: `);
    // The console's last lines follow a failure's name, or a note says why they cannot.
    expect(run.stdout).to.satisfy((out: string) => out.includes('  jobs-job-1: exited with 1\n    | job 1\n')
      || /^ {2}\(console output is not available: .+\)$/m.test(out));

    // Again, as JSON: the jobs that ran are kept, not run again.
    const json = await d.cli(['fleet', 'up', '--wait', '--json', file]);
    expect(json.code).to.equal(1);
    const s = JSON.parse(json.stdout) as JsonSummary;
    expect(s.plan).to.deep.equal({ create: 0, replace: 0, start: 0, keep: 200, remove: 0 });
    expect(s.ok).to.equal(false);
    expect(s.jobs?.total).to.equal(200);
    expect(s.jobs?.byExitCode).to.deep.equal({ 0: 66, 1: 67, 2: 67 });
    expect(s.jobs?.durationMs?.p50).to.be.a('number');
    expect(s.failures.map((f) => f.name).sort()).to.deep.equal([...expected[1], ...expected[2]].sort());
    expect(s.failures.every((f) => f.status === 'exited' && f.exitCode === Number(f.name.split('-').pop()) % 3)).to.equal(true);
    ok(await d.cli(['fleet', 'down', file]), 'down');
    assertNothingLeft();
  });

  it('500 sleep containers come up, status shows 500 running, down removes them all', async () => {
    const file = write('five-hundred.yaml', `
name: many
services:
  sleeper:
    image: host
    command: [/bin/sleep, infinity]
    deploy: { replicas: 500 }
    x-skiff: { console: { buffer: 4KiB } }
`);
    const up = await d.cli(['fleet', 'up', file], { timeoutMs: 60_000 });
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.match(/^many: 500 created · .* — 500 running, 0 failed/);
    const status = ok(await d.cli(['fleet', 'status', file]), 'status');
    expect(status.stdout).to.match(/^sleeper\s+500\s+500\s+-\s+-\s+0\s+0$/m);
    expect(d.children()).to.have.length(500);
    const down = ok(await d.cli(['fleet', 'down', file], { timeoutMs: 60_000 }), 'down');
    expect(down.stdout).to.match(/^many: removed 500 containers/);
    assertNothingLeft();
  });

  it('backs off and retries while the start queue is full (429): every container still starts', async () => {
    // A daemon whose queue takes 2 waiting starts: the reconciler keeps more in flight than that.
    await withDaemon(['--max-queued', '2'], async (small) => {
      const file = write('queue.yaml', `
name: queue
services:
  q:
    image: host
    command: [/bin/sleep, infinity]
    deploy: { replicas: 40 }
`);
      const up = await small.cli(['fleet', 'up', file]);
      expect(up.code, up.stderr).to.equal(0);
      expect(up.stdout).to.match(/— 40 running, 0 failed/);
      const metrics = (await small.api('GET', '/metrics')).text;
      expect(Number(/^skiff_starts_total\{outcome="rejected"\} (\d+)$/m.exec(metrics)?.[1])).to.be.greaterThan(0);
      expect(Number(/^skiff_starts_total\{outcome="ok"\} (\d+)$/m.exec(metrics)?.[1])).to.equal(40);
      expect((await small.cli(['fleet', 'down', file])).code).to.equal(0);
      expect(small.children()).to.deep.equal([]);
    });
  });

  it('a bad fleet file starts nothing and says where it is wrong (exit 2)', async () => {
    const typo = write('typo.yaml', 'name: typo\nservices:\n  web:\n    image: host\n    comand: [/bin/echo]\n');
    const r = await d.cli(['fleet', 'up', typo]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(`skiff: ${typo}:5:5 services.web.comand: unknown key, did you mean "command"?\n`);
    const ten = write('ten.yaml', 'name: ten\nservices:\n  web:\n    image: host\n    command: [/bin/true]\n    deploy:\n      replicas: ten\n');
    const r2 = await d.cli(['fleet', 'up', ten]);
    expect(r2.code).to.equal(2);
    expect(r2.stderr).to.equal(`skiff: ${ten}:7:17 services.web.deploy.replicas: expected a positive integer, got "ten"\n`);
    expect((await d.api('GET', '/fleets')).body).to.deep.equal([]);
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
    const usage = await d.cli(['fleet', 'up']);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.match(/^skiff fleet: up needs exactly one FILE, got 0\nusage: skiff fleet up FILE/);
  });

  it('skiffd checks what it is sent: a template that names a replica or claims skiff\'s labels is refused with 400', async () => {
    const service = { name: 'web', replicas: 1, job: false, dependsOn: [], configHash: 'ab'.repeat(32) };
    const post = (template: unknown) => d.api('POST', '/fleets', { name: 'x', services: [{ ...service, template }] });
    const named = await post({ name: 'other-web-1', command: ['/bin/true'] });
    expect(named.status).to.equal(400);
    expect(named.body).to.deep.equal({ message: 'services[0].template.name is set per replica (<fleet>-<service>-<replica>); a template has none', field: 'services[0].template.name' });
    const claims = await post({ command: ['/bin/true'], labels: { 'skiff.fleet': 'other' } });
    expect(claims.body).to.deep.equal({ message: 'services[0].template.labels.skiff.fleet is skiff\'s own label, set per replica', field: 'services[0].template.labels.skiff.fleet' });
    const env = await post({ command: ['/bin/true'], env: ['A=1', 'SKIFF_REPLICA=7'] });
    expect((env.body as { message: string }).message).to.equal('services[0].template.env[1] sets SKIFF_REPLICA, which skiff sets per replica');
    const bad = await post({ command: [] });
    expect(bad.status).to.equal(400);
    expect((bad.body as { message: string }).message).to.equal('services[0].template.command must be a non-empty list of strings, got an array');
    const long = await d.api('POST', '/fleets', { name: 'x'.repeat(30), services: [{ ...service, name: 'y'.repeat(30), replicas: 100, template: { command: ['/bin/true'] } }] });
    expect((long.body as { field: string }).field).to.equal('services[0].replicas');
    expect((await d.api('POST', '/fleets', undefined, '{"name":')).status).to.equal(400);
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
  });

  it('remembers a fleet across a daemon restart: it is read back from the containers, and up is still a no-op', async () => {
    const file = write('restart.yaml', `
name: survivor
services:
  s:
    image: host
    command: [/bin/sh, -c, 'trap "exit 0" TERM; sleep 1000 & wait']
    deploy: { replicas: 3 }
`);
    ok(await d.cli(['fleet', 'up', file]), 'up');
    const before = await pids('survivor');
    await d.stop();
    await d.start();
    const ls = ok(await d.cli(['fleet', 'ls']), 'ls');
    expect(ls.stdout).to.match(/^survivor\s+1\s+3\s+3\s+0\s+0\s+-$/m);
    const again = ok(await d.cli(['fleet', 'up', file]), 'up after restart');
    expect(again.stdout).to.match(/^survivor: 0 created · 0 replaced · 0 started again · 0 removed · 3 unchanged — 3 running/);
    expect(await pids('survivor')).to.deep.equal(before);
    ok(await d.cli(['fleet', 'down', file]), 'down');
    // Adopted PID 1s are no longer skiffd's children (it was restarted): look them up by pid.
    for (const pid of before.values()) expect(ended(pid), `pid ${pid} ended`).to.equal(true);
    expect(readdirSync(d.stateDir).filter((e) => e !== '.skiffd')).to.deep.equal([]);
  });
});
