// Health checks against a real skiffd with real containers: probes are execs in the container
// (a file the container makes is what the check looks for), State.Health in Docker's shape
// through the real docker CLI and docker-py, `(healthy)` in `docker ps` and `skiff ps`,
// health_status events, a check that never passes turning unhealthy after its retries, a
// probe killed at its timeout, probing resumed by a restarted skiffd, restart_on_unhealthy,
// and bad input refused with nothing left behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { busyboxLayer } from '../support/busybox-layer.js';
import { requireDocker, useDaemon, withDaemon, type CliResult } from '../support/daemon.js';
import { writeLayout } from '../support/registry.js';
import { useTempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';

const PYTHON = '/usr/bin/python3';
const DOCKER_PY = '/usr/lib/python3/dist-packages/docker/__init__.py';

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}
interface HealthInspect {
  State: { Status: string; Running: boolean; Health?: Health };
  Config: { Healthcheck?: Record<string, unknown> };
  RestartCount: number;
}

/** How many processes run `sleep <arg>` on the host (probes that were not killed pile up). */
function sleepers(arg: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `sleep\0${arg}\0`) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

// Readiness is the test's to give (an exec touching /tmp/ready), not a sleep's: on a loaded
// machine a container that got ready on its own after a second could be healthy before the test
// looked at it starting, or a probe could miss a one-second window.
const SLEEPER = ['/bin/sleep', '600'];

describe('health checks', function () {
  this.timeout(120_000);
  // Not about networks, and skiffd runs in the host's namespace: Docker API creates that name no
  // network stay on none rather than join bridge.
  const d = useDaemon(['--docker-network', 'none']);
  const tmp = useTempDirs();
  before(requireDocker);

  afterEach(async () => {
    const list = (await d.api('GET', '/containers/json?all=1')).body as { Id: string }[];
    await Promise.all(list.map((c) => d.api('DELETE', `/containers/${c.Id}?force=1`)));
  });

  const ok = (r: CliResult, what: string): CliResult => {
    expect(r.code, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
    return r;
  };
  const health = async (name: string): Promise<Health | undefined> => (await d.inspect<HealthInspect>(name)).State.Health;
  const healthIs = (name: string, status: string) => until(async () => (await health(name))?.Status === status, `${name} to be ${status}`);

  it('docker run --health-*: starting, then healthy once the check passes; docker ps shows (healthy); inspect is Docker\'s shape', async () => {
    // The start period keeps it starting however many probes fail before the test makes it ready.
    // The probe's timeout is a stall bound (a minute), not a budget: a probe that a loaded machine
    // keeps waiting for seconds still counts as what it returned, so every failure below is `test`'s.
    ok(await d.docker(['run', '-d', '--name', 'hc-web', '--health-cmd', 'test -e /tmp/ready && echo ready', '--health-interval', '300ms',
      '--health-retries', '2', '--health-timeout', '60s', '--health-start-period', '60s', 'host', ...SLEEPER]), 'docker run');
    const early = (await d.inspect<HealthInspect>('hc-web')).State.Health!;
    expect(early.Status).to.equal('starting');
    expect((await d.docker(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout).to.match(/^hc-web Up .* \(health: starting\)\n$/);
    ok(await d.docker(['exec', 'hc-web', 'touch', '/tmp/ready']), 'docker exec');
    await healthIs('hc-web', 'healthy');

    expect((await d.docker(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout).to.match(/^hc-web Up .* \(healthy\)\n$/);
    expect((await d.docker(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])).stdout).to.equal('hc-web\n');
    expect((await d.docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).stdout).to.equal('');
    const ps = ok(await d.cli(['ps']), 'skiff ps').stdout;
    expect(ps).to.match(/^hc-web\s+running\s+\d+\s+Up .* \(healthy\)\s/m);

    const json = ok(await d.docker(['inspect', '--format', '{{json .State.Health}}', 'hc-web']), 'docker inspect').stdout;
    const h = JSON.parse(json) as Health;
    expect(Object.keys(h)).to.deep.equal(['Status', 'FailingStreak', 'Log']);
    expect(h.Status).to.equal('healthy');
    expect(h.FailingStreak).to.equal(0);
    expect(h.Log.length).to.be.within(1, 5);
    const last = h.Log.at(-1)!;
    expect(Object.keys(last)).to.deep.equal(['Start', 'End', 'ExitCode', 'Output']);
    expect([last.ExitCode, last.Output]).to.deep.equal([0, 'ready\n']);
    expect(Date.parse(last.End)).to.be.at.least(Date.parse(last.Start));
    // the failures before /tmp/ready existed: the shell's `test` exits 1
    const failures = h.Log.filter((e) => e.ExitCode !== 0);
    for (const f of failures) expect([f.ExitCode, f.Output]).to.deep.equal([1, '']);
    const config = JSON.parse(ok(await d.docker(['inspect', '--format', '{{json .Config.Healthcheck}}', 'hc-web']), 'inspect').stdout) as Record<string, unknown>;
    expect(config).to.deep.equal({
      Test: ['CMD-SHELL', 'test -e /tmp/ready && echo ready'], Interval: 300_000_000, Timeout: 60_000_000_000, StartPeriod: 60_000_000_000,
      StartInterval: 5_000_000_000, Retries: 2,
    });
    expect((await d.inspect<HealthInspect>('hc-web')).Config.Healthcheck).to.deep.equal(config);
  });

  it('emits health_status events on each change, in Docker\'s shape (docker events --filter event=health_status)', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // The start period keeps the failures before /tmp/ready exists from counting: starting → healthy → unhealthy.
    ok(await d.cli(['run', '-d', '--name', 'hc-ev', '--health-cmd', 'test -e /tmp/ready', '--health-interval', '200ms', '--health-retries', '1',
      '--health-start-period', '60s', '--health-start-interval', '100ms',
      '--', ...SLEEPER]), 'skiff run');
    ok(await d.cli(['exec', 'hc-ev', 'touch', '/tmp/ready']), 'skiff exec touch');
    await healthIs('hc-ev', 'healthy');
    ok(await d.cli(['exec', 'hc-ev', 'rm', '/tmp/ready']), 'skiff exec rm');
    await healthIs('hc-ev', 'unhealthy');
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = ok(await d.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'event=health_status',
      '--filter', 'container=hc-ev', '--format', '{{.Status}} {{.Actor.Attributes.name}}']), 'docker events');
    expect(r.stdout).to.equal('health_status: healthy hc-ev\nhealth_status: unhealthy hc-ev\n');
  });

  it('a check that never passes: unhealthy after its retries, FailingStreak counted; a probe outliving its timeout is killed', async () => {
    ok(await d.cli(['run', '-d', '--name', 'hc-bad', '--health-cmd', 'echo no such thing >&2; exit 3', '--health-interval', '100ms',
      '--health-retries', '3', '--', '/bin/sleep', '600']), 'skiff run');
    await healthIs('hc-bad', 'unhealthy');
    const h = (await health('hc-bad'))!;
    expect(h.FailingStreak).to.be.at.least(3);
    expect(h.Log.at(-1)).to.include({ ExitCode: 3, Output: 'no such thing\n' });

    // The probe sleeps far past its timeout: killed, exit -1 with Docker's message, long before 600 s.
    // (CMD form: the probe is the sleep itself. The kill is the exec's process's, as Docker's; a
    // CMD-SHELL probe's own children outlive it, as they do in Docker.)
    const created = await d.api('POST', '/containers/create?name=hc-slow', {
      Image: 'host', Cmd: ['/bin/sleep', '600'],
      Healthcheck: { Test: ['CMD', '/bin/sleep', '601'], Interval: 100_000_000, Timeout: 300_000_000, Retries: 1 },
    });
    expect(created.status, created.text).to.equal(201);
    expect((await d.api('POST', '/containers/hc-slow/start')).status).to.equal(204);
    await healthIs('hc-slow', 'unhealthy');
    // Probe after probe times out (one every 100 ms after the last ended); each was killed, so they
    // do not pile up: at most the one in flight runs.
    await until(async () => (await health('hc-slow'))!.Log.filter((e) => e.ExitCode === -1).length >= 4, 'four probes to time out');
    const slow = (await health('hc-slow'))!.Log.at(-1)!;
    expect([slow.ExitCode, slow.Output]).to.deep.equal([-1, 'Health check exceeded timeout (300ms)']);
    expect(sleepers('601'), 'probes still running').to.be.at.most(1);
  });

  it('docker-py: healthcheck= on run, container.attrs[State][Health] is Docker\'s shape', async function () {
    if (!existsSync(DOCKER_PY)) throw new Error(`${DOCKER_PY} is missing: install python3-docker (npm run test:deps does)`);
    const script = `
import docker, json, time
c = docker.from_env(version='1.44')
ct = c.containers.run('host', ['/bin/sh', '-c', 'sleep 1; touch /tmp/ready; exec sleep 600'], name='hc-py', detach=True,
    healthcheck={'test': ['CMD', '/bin/test', '-e', '/tmp/ready'], 'interval': 200000000, 'retries': 2})
for _ in range(600):
    ct.reload()
    if ct.attrs['State']['Health']['Status'] == 'healthy':
        break
    time.sleep(0.1)
h = ct.attrs['State']['Health']
print(json.dumps({'status': h['Status'], 'streak': h['FailingStreak'], 'keys': sorted(h['Log'][-1].keys()),
    'exit': h['Log'][-1]['ExitCode'], 'test': ct.attrs['Config']['Healthcheck']['Test'], 'health': getattr(ct, 'health', None)}))`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(PYTHON, ['-c', script], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, PYTHONPATH: '' } });
      let o = '';
      let e = '';
      child.stdout.on('data', (b: Buffer) => { o += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { e += b.toString(); });
      child.on('close', (code) => (code === 0 ? resolve(o) : reject(new Error(`python exited ${code}: ${e}`))));
    });
    const r = JSON.parse(out) as Record<string, unknown>;
    // ct.health is docker-py's own reading of State.Health.Status (docker-py ≥ 6); absent in older ones
    expect({ ...r, health: r.health ?? 'healthy' }).to.deep.equal({
      status: 'healthy', streak: 0, keys: ['End', 'ExitCode', 'Output', 'Start'], exit: 0, test: ['CMD', '/bin/test', '-e', '/tmp/ready'], health: 'healthy',
    });
  });

  it('a new run starts over as starting; a stopped container keeps its last probes', async () => {
    // The check passes only while the host has no /hold in the shared directory, and the start
    // period keeps failures from counting: so after the restart it stays starting until the test
    // removes /hold, however late the test looks (a check that always passed could turn healthy
    // one interval after the start, before a slow inspect saw it starting).
    const shared = tmp.make('hc-again');
    ok(await d.cli(['run', '-d', '--name', 'hc-again', '--mount', `${shared}:/mnt:ro`, '--health-cmd', 'test ! -e /mnt/hold',
      '--health-interval', '100ms', '--health-start-period', '60s', '--', '/bin/sleep', '600']), 'run');
    await healthIs('hc-again', 'healthy');
    ok(await d.cli(['stop', '--time', '0', 'hc-again']), 'stop');
    const stopped = (await health('hc-again'))!;
    expect(stopped.Log.length).to.be.at.least(1);
    expect((await d.docker(['ps', '-a', '--filter', 'name=hc-again', '--format', '{{.Status}}'])).stdout).to.match(/^Exited \(\d+\) /);
    writeFileSync(join(shared, 'hold'), '');
    expect((await d.api('POST', '/containers/hc-again/start')).status).to.equal(204);
    expect((await health('hc-again'))!.Status).to.equal('starting');
    unlinkSync(join(shared, 'hold'));
    await healthIs('hc-again', 'healthy');
  });

  it('an image\'s Healthcheck applies to its containers: docker run\'s settings merge over it, --no-healthcheck switches it off', async () => {
    const layout = tmp.make('hc-image');
    await writeLayout(layout, {
      tag: 'hc.test/bb:1', layers: [busyboxLayer()],
      config: { Cmd: ['/bin/sleep', '600'], Healthcheck: { Test: ['CMD', '/bin/true'], Interval: 200_000_000, Retries: 4 } },
    });
    const file = join(tmp.make('hc-image-tar'), 'image.tar');
    const tar = spawnSync('tar', ['-C', layout, '-cf', file, '.'], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).to.equal(0);
    ok(await d.cli(['load', '-i', file]), 'load');
    const imageCheck = JSON.parse(ok(await d.docker(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', 'hc.test/bb:1']), 'image inspect').stdout) as unknown;
    expect(imageCheck).to.deep.equal({ Test: ['CMD', '/bin/true'], Interval: 200_000_000, Retries: 4 });

    ok(await d.docker(['run', '-d', '--name', 'hc-img', 'hc.test/bb:1']), 'docker run');
    await healthIs('hc-img', 'healthy');
    ok(await d.docker(['run', '-d', '--name', 'hc-img-tuned', '--health-timeout', '7s', 'hc.test/bb:1']), 'docker run --health-timeout');
    expect((await d.inspect<HealthInspect>('hc-img-tuned')).Config.Healthcheck).to.deep.equal({
      Test: ['CMD', '/bin/true'], Interval: 200_000_000, Timeout: 7_000_000_000, StartPeriod: 0, StartInterval: 5_000_000_000, Retries: 4,
    });
    ok(await d.docker(['run', '-d', '--name', 'hc-img-off', '--no-healthcheck', 'hc.test/bb:1']), 'docker run --no-healthcheck');
    const off = await d.inspect<HealthInspect>('hc-img-off');
    expect([off.State.Health, off.Config.Healthcheck]).to.deep.equal([undefined, undefined]);
    expect((await d.docker(['ps', '--filter', 'health=none', '--format', '{{.Names}}'])).stdout).to.equal('hc-img-off\n');
  });

  describe('bad input: a clear error naming the field, and nothing left behind', () => {
    const nothingLeft = async (): Promise<void> => {
      expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
      expect(readdirSync(d.stateDir).filter((e) => e !== '.skiffd')).to.deep.equal([]);
      expect(d.children()).to.deep.equal([]);
    };

    it('the Docker API: a Test of an unknown form, negative and sub-millisecond durations, negative retries', async () => {
      const create = async (hc: unknown) => d.api('POST', '/containers/create?name=hc-x', { Image: 'host', Cmd: ['/bin/true'], Healthcheck: hc });
      const cases: [unknown, string][] = [
        [{ Test: ['CMD-EXEC', 'x'] }, 'Healthcheck.Test[0] must be CMD or CMD-SHELL (or NONE to disable an image\'s check), got "CMD-EXEC"'],
        [{ Test: ['CMD-SHELL', 'true'], Interval: -1_000_000_000 }, 'Healthcheck.Interval must not be negative, got -1000000000'],
        [{ Test: ['CMD-SHELL', 'true'], Timeout: 10 }, 'Healthcheck.Timeout must be 0 (the default) or at least 1 ms (1000000 ns), got 10'],
        [{ Test: ['CMD-SHELL', 'true'], Retries: -1 }, 'Healthcheck.Retries must not be negative, got -1'],
        [{ Test: ['CMD'] }, 'Healthcheck.Test CMD needs a program to run: ["CMD", program, args...]'],
      ];
      for (const [hc, message] of cases) {
        const r = await create(hc);
        expect([r.status, (r.body as { message: string }).message]).to.deep.equal([400, message]);
      }
      await nothingLeft();
    });

    it('skiff run and docker run: negative durations are usage errors', async () => {
      const r = await d.cli(['run', '--health-cmd', 'true', '--health-interval', '-1s', '--', '/bin/true']);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include("option '--health-interval <DURATION>' argument '-1s' is invalid. Expected a duration that is not negative");
      const both = await d.cli(['run', '--no-healthcheck', '--health-cmd', 'true', '--', '/bin/true']);
      expect(both.stderr).to.include('--no-healthcheck conflicts with --health-* options');
      const docker = await d.docker(['run', '--health-cmd', 'true', '--health-interval', '-1s', 'host', '/bin/true']);
      expect(docker.code).to.not.equal(0);
      expect(docker.stderr).to.include('--health-interval cannot be negative');
      await nothingLeft();
    });
  });

  it('a restarted skiffd goes on probing its adopted containers from the state their records kept', async () => {
    const shared = tmp.make('hc-adopt');
    await withDaemon([], async (d2) => {
      const run = await d2.cli(['run', '-d', '--name', 'hc-adopt', '--mount', `${shared}:/mnt:ro`, '--health-cmd', 'test ! -e /mnt/sick',
        '--health-interval', '200ms', '--health-retries', '1', '--', '/bin/sleep', '600']);
      expect(run.code, run.stderr).to.equal(0);
      await until(async () => (await d2.inspect<HealthInspect>('hc-adopt')).State.Health?.Status === 'healthy', 'healthy before the restart');
      await d2.stop();
      await d2.start();
      const after = (await d2.inspect<HealthInspect>('hc-adopt')).State;
      expect([after.Running, after.Health?.Status]).to.deep.equal([true, 'healthy']);
      // Probing goes on: the check fails once the host makes the file it looks for.
      writeFileSync(join(shared, 'sick'), '');
      await until(async () => (await d2.inspect<HealthInspect>('hc-adopt')).State.Health?.Status === 'unhealthy', 'unhealthy after the restart');
    });
  });
});
