// skiffd driven through the CLI and the API: run, ps, inspect, stop, kill, wait, rm,
// restart policies and events, on real containers.
import { expect } from 'chai';
import { open } from '../../src/api/http-client.js';
import { useDaemon } from '../support/daemon.js';
import { until } from '../support/wait.js';

interface Inspect { State: { Status: string; Pid: number; ExitCode: number; Running: boolean }; RestartCount: number; Name: string; Skiff: { Status: string } }

describe('skiffd lifecycle (CLI and API)', function () {
  this.timeout(60_000);
  const d = useDaemon();

  const inspect = async (name: string) => (await d.api('GET', `/containers/${name}/json`)).body as Inspect;

  it('runs attached and exits with the init\'s exit code; 127 for a missing command', async () => {
    expect((await d.cli(['run', '--name', 'exit3', '--', '/bin/sh', '-c', 'exit 3'])).code).to.equal(3);
    const missing = await d.cli(['run', '--name', 'missing', '--', '/no/such/cmd']);
    expect(missing.code).to.equal(127);
    expect(missing.stderr).to.include('command `/no/such/cmd` not found: ENOENT');
  });

  it('run --rm of commands that exit at once, 16 at a time: each exits with its code, none is left', async () => {
    // The CLI used to ask for the exit code after the console closed, by which time --rm could
    // have removed the container ("No such container", exit 125; seen on a loaded CI machine).
    const ids = async (): Promise<string[]> => ((await d.api('GET', '/containers/json?all=1')).body as { Id: string }[]).map((c) => c.Id).sort();
    const before = await ids();
    const runs = await Promise.all(Array.from({ length: 16 }, (_, i) => d.cli(['run', '--rm', '--', '/bin/sh', '-c', `exit ${i % 4}`])));
    expect(runs.map((r) => [r.code, r.stderr])).to.deep.equal(Array.from({ length: 16 }, (_, i) => [i % 4, '']));
    expect(await ids()).to.deep.equal(before);
  });

  it('run -d, ps, inspect, wait, rm', async () => {
    const run = await d.cli(['run', '-d', '--name', 'sleeper', '--', '/bin/sleep', '1000']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout.trim()).to.equal('sleeper');
    const ps = await d.cli(['ps']);
    expect(ps.stdout.split('\n')[0]).to.match(/^NAME\s+STATUS\s+PID\s+UPTIME\/EXIT\s+COMMAND$/);
    const line = ps.stdout.split('\n').find((l) => l.startsWith('sleeper'));
    expect(line).to.match(/^sleeper\s+running\s+\d+\s+Up .+\s+\/bin\/sleep 1000$/);
    const info = await inspect('sleeper');
    expect(info.State.Running).to.equal(true);
    expect(info.Name).to.equal('/sleeper');
    // PID 1 is skiffd's child, under its own command line.
    const stat = (await import('node:fs')).readFileSync(`/proc/${info.State.Pid}/status`, 'utf8');
    expect(Number(/^PPid:\s+(\d+)/m.exec(stat)![1])).to.equal(d.pid);
    const json = JSON.parse((await d.cli(['ps', '--json'])).stdout) as { name: string; status: string; pid: number }[];
    expect(json.find((c) => c.name === 'sleeper')).to.include({ status: 'running', pid: info.State.Pid });

    const rmRunning = await d.cli(['rm', 'sleeper']);
    expect(rmRunning.code).to.equal(1);
    expect(rmRunning.stderr).to.include('You cannot remove a running container sleeper');
    expect((await d.cli(['kill', 'sleeper'])).code).to.equal(0);
    const waited = await d.cli(['wait', 'sleeper']);
    expect(waited.stdout.trim()).to.equal('137');
    expect((await d.cli(['rm', 'sleeper'])).stdout.trim()).to.equal('sleeper');
    expect((await d.api('GET', '/containers/sleeper/json')).status).to.equal(404);
    const { existsSync } = await import('node:fs');
    expect(existsSync(`${d.stateDir}/sleeper`)).to.equal(false);
  });

  it('stop honours SIGTERM, and kills a process that ignores it after --time', async () => {
    // Each says ready once its trap is set: a SIGTERM before that would end the shell instead.
    await d.cli(['run', '-d', '--name', 'polite', '--', '/bin/sh', '-c', 'trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done']);
    await d.cli(['run', '-d', '--name', 'stubborn', '--', '/bin/sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.1; done']);
    await d.waitForOutput('polite', 'ready');
    await d.waitForOutput('stubborn', 'ready');
    const polite = await d.cli(['stop', 'polite']);
    expect(polite.code).to.equal(0);
    expect((await inspect('polite')).State.ExitCode).to.equal(0);
    const stubborn = await d.cli(['stop', '--time', '1', 'stubborn']);
    expect(stubborn.code).to.equal(0);
    expect((await inspect('stubborn')).State.ExitCode).to.equal(137);
  });

  it('kill sends the signal asked for', async () => {
    await d.cli(['run', '-d', '--name', 'usr1', '--', '/bin/sh', '-c', 'trap "exit 42" USR1; echo ready; while true; do sleep 0.1; done']);
    await d.waitForOutput('usr1', 'ready'); // the trap is set
    expect((await d.cli(['kill', '--signal', 'USR1', 'usr1'])).code).to.equal(0);
    expect((await d.cli(['wait', 'usr1'])).stdout.trim()).to.equal('42');
    const notRunning = await d.cli(['kill', 'usr1']);
    expect(notRunning.code).to.equal(1);
    expect(notRunning.stderr).to.include('Container usr1 is not running');
  });

  it('on-failure:3 restarts exactly 3 times', async () => {
    const r = await d.cli(['run', '-d', '--restart', 'on-failure:3', '--name', 'flaky', '--', '/bin/sh', '-c', 'exit 1']);
    expect(r.code, r.stderr).to.equal(0);
    await until(async () => {
      const i = await inspect('flaky');
      return i.RestartCount === 3 && i.Skiff.Status === 'exited';
    }, 'three restarts');
    // `exited` (not `restarting`) is set only once the policy is spent: no fourth run is coming.
    const i = await inspect('flaky');
    expect(i.RestartCount).to.equal(3);
    expect(i.State.ExitCode).to.equal(1);
  });

  it('streams events for every state change', async () => {
    const seen: { Action: string; Actor: { Attributes: { name: string } } }[] = [];
    // The answer's headers come once skiffd has subscribed this stream: nothing after is missed.
    const events = await open(d.socket, 'GET', '/events');
    const done = new Promise<void>((resolve) => {
      let buf = '';
      events.on('data', (c: Buffer) => {
        buf += c.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          seen.push(JSON.parse(buf.slice(0, nl)) as (typeof seen)[number]);
          buf = buf.slice(nl + 1);
        }
        if (seen.some((e) => e.Action === 'destroy' && e.Actor.Attributes.name === 'evented')) resolve();
      });
    });
    await d.cli(['run', '--name', 'evented', '--', '/bin/true']);
    await d.cli(['rm', 'evented']);
    await done;
    events.destroy();
    const mine = seen.filter((e) => e.Actor.Attributes.name === 'evented').map((e) => e.Action);
    expect(mine).to.deep.equal(['create', 'start', 'die', 'destroy']);
  });

  it('usage errors exit 2, unknown containers 1', async () => {
    expect((await d.cli(['stop'])).code).to.equal(2);
    expect((await d.cli(['frobnicate'])).code).to.equal(2);
    expect((await d.cli(['run', '--bogus', '--', '/bin/true'])).code).to.equal(2);
    const unknown = await d.cli(['inspect', 'nope']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr.trim()).to.equal('skiff: No such container: nope');
  });
});
