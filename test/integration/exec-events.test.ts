// An exec's events on /events as dockerd emits them: `exec_create: CMD`, `exec_start: CMD` (with
// its execID) and `exec_die` (execID, exitCode), read back by `docker events` with since, until and
// filters, and by dockerode's getEvents; a health probe's execs emit the same three.
import { expect } from 'chai';
import Docker from 'dockerode';
import { requireDocker, until, useDaemon, type CliResult } from '../support/daemon.js';

interface Ev { Action: string; status: string; id: string; Actor: { ID: string; Attributes: Record<string, string> } }

const SLEEPER = ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait'];

describe('exec events: exec_create, exec_start and exec_die on /events', function () {
  this.timeout(60_000);
  before(requireDocker);
  const d = useDaemon(['--docker-network', 'none']);
  let webId = '';

  before(async () => {
    const r = await d.api('POST', '/containers/create?name=ev-web', { Image: 'host', Cmd: SLEEPER });
    expect(r.status, r.text).to.equal(201);
    webId = (r.body as { Id: string }).Id;
    expect((await d.api('POST', '/containers/ev-web/start')).status).to.equal(204);
  });

  /** docker's output, its template's `<no value>` (an attribute the event has not) read as empty. */
  const ok = (r: CliResult, what: string): CliResult => {
    expect(r.code, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
    return { ...r, stdout: r.stdout.replaceAll('<no value>', '') };
  };
  /** An exec through the API, attached to its end; its id. */
  const exec = async (cmd: string[]): Promise<string> => {
    const c = await d.api('POST', '/containers/ev-web/exec', { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    expect(c.status, c.text).to.equal(201);
    const id = (c.body as { Id: string }).Id;
    expect((await d.api('POST', `/exec/${id}/start`, {})).status).to.be.oneOf([101, 200]);
    // The hijacked stream ends once the exit code is recorded (and exec_die emitted): this is a check, not a wait.
    const j = (await d.api('GET', `/exec/${id}/json`)).body as { Running: boolean; ExitCode: number | null };
    expect(j.Running).to.equal(false);
    expect(j.ExitCode).to.be.a('number');
    return id;
  };

  it('docker events shows exec_create/exec_start with the command and exec_die with its exit code, one execID each, within since/until', async () => {
    const since = (Date.now() / 1000).toFixed(3);
    const three = await exec(['sh', '-c', 'exit 3']);
    const tty = await exec(['tty']);
    const missing = await exec(['nosuch-command']);
    const untilT = (Date.now() / 1000 + 0.5).toFixed(3);
    const r = ok(await d.docker(['events', '--since', since, '--until', untilT, '--filter', 'container=ev-web',
      '--format', '{{.Action}}|{{.Actor.Attributes.execID}}|{{.Actor.Attributes.exitCode}}|{{.Actor.Attributes.name}}']), 'docker events');
    expect(r.stdout.split('\n').filter(Boolean)).to.deep.equal([
      `exec_create: sh -c exit 3|${three}||ev-web`, `exec_start: sh -c exit 3|${three}||ev-web`, `exec_die|${three}|3|ev-web`,
      // Docker's text: the entrypoint, a space, the arguments (none here: a trailing space)
      `exec_create: tty |${tty}||ev-web`, `exec_start: tty |${tty}||ev-web`, `exec_die|${tty}|1|ev-web`,
      `exec_create: nosuch-command |${missing}||ev-web`, `exec_start: nosuch-command |${missing}||ev-web`, `exec_die|${missing}|127|ev-web`,
    ]);
    // `event=exec_start` matches the actions that begin with it, as Docker's filter does.
    const starts = ok(await d.docker(['events', '--since', since, '--until', untilT, '--filter', 'event=exec_start', '--format', '{{.Actor.Attributes.execID}}']), 'docker events');
    expect(starts.stdout).to.equal(`${three}\n${tty}\n${missing}\n`);
    // An until before the execs: none of them.
    const before = ok(await d.docker(['events', '--since', String(Number(since) - 5), '--until', since, '--filter', 'container=ev-web',
      '--filter', 'event=exec_die']), 'docker events');
    expect(before.stdout).to.equal('');
  });

  it('dockerode getEvents with since, until and an event filter: exec_die in Docker\'s shape', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const since = Math.floor(Date.now() / 1000);
    const id = await exec(['sh', '-c', 'exit 5']);
    const stream = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { event: ['exec_die'], container: ['ev-web'] } });
    const text = await new Promise<string>((resolve, reject) => {
      let out = '';
      stream.on('data', (b: Buffer) => { out += b.toString(); });
      stream.on('end', () => resolve(out));
      stream.on('error', reject);
    });
    const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
    const mine = events.filter((e) => e.Actor.Attributes.execID === id);
    expect(mine).to.have.length(1);
    expect(mine[0]).to.include({ Action: 'exec_die', status: 'exec_die', id: webId });
    expect(mine[0]!.Actor).to.deep.include({ ID: webId });
    expect(mine[0]!.Actor.Attributes).to.include({ execID: id, exitCode: '5', name: 'ev-web', image: 'host' });
  });

  it('a health probe is an exec with the same events, and health_status follows', async () => {
    const since = (Date.now() / 1000).toFixed(3);
    const r = await d.api('POST', '/containers/create?name=ev-hc', {
      Image: 'host', Cmd: SLEEPER, Healthcheck: { Test: ['CMD', '/bin/true'], Interval: 200_000_000, Retries: 1 },
    });
    expect(r.status, r.text).to.equal(201);
    expect((await d.api('POST', '/containers/ev-hc/start')).status).to.equal(204);
    await until(async () => (await d.inspect<{ State: { Health?: { Status: string } } }>('ev-hc')).State.Health?.Status === 'healthy', 'ev-hc healthy');
    const untilT = (Date.now() / 1000 + 0.2).toFixed(3);
    const ev = ok(await d.docker(['events', '--since', since, '--until', untilT, '--filter', 'container=ev-hc', '--format', '{{.Action}}|{{.Actor.Attributes.exitCode}}']), 'docker events');
    const lines = ev.stdout.split('\n').filter(Boolean);
    const first = lines.indexOf('exec_create: /bin/true |');
    expect(first, ev.stdout).to.be.at.least(0);
    expect(lines.slice(first, first + 3)).to.deep.equal(['exec_create: /bin/true |', 'exec_start: /bin/true |', 'exec_die|0']);
    expect(lines).to.include('health_status: healthy|');
  });
});
