// docker top (GET /containers/{id}/top?ps_args=): the container's processes, PID 1 and its
// descendants, as the host's ps prints them, through the real docker CLI, the API and skiff top.
import { expect } from 'chai';
import { requireDocker, until, useDaemon } from '../support/daemon.js';

interface Top { Titles: string[]; Processes: string[][] }

describe('docker top: a running container\'s processes through ps', function () {
  this.timeout(60_000);
  before(requireDocker);
  const d = useDaemon();
  let pid1 = 0;
  let child = 0;

  before(async () => {
    const run = await d.docker(['run', '-d', '--name', 'top-web', 'host', '/bin/sh', '-c', 'sleep 1000 & wait']);
    expect(run.code, run.stderr).to.equal(0);
    pid1 = ((await d.api('GET', '/containers/top-web/json')).body as { State: { Pid: number } }).State.Pid;
    // The shell forks its sleep after PID 1 runs: wait until top shows it.
    const top = await until(async () => {
      const body = (await d.api('GET', '/containers/top-web/top')).body as Top;
      return body.Processes.length === 2 ? body : null;
    }, 'the sleep to appear in top');
    child = Number(top.Processes.find((p) => p[7] === 'sleep 1000')![1]);
  });

  it('docker top NAME lists the init and its child, Docker\'s -ef columns, nothing else of the host', async () => {
    const r = await d.docker(['top', 'top-web']);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]!.split(/\s+/)).to.deep.equal(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    expect(lines).to.have.length(3);
    const rows = lines.slice(1).map((l) => l.split(/\s+/));
    expect(rows.map((f) => [f[0], Number(f[1]), Number(f[2])])).to.deep.equal([['root', pid1, d.pid], ['root', child, pid1]]);
    expect(lines[1]).to.match(/ \/bin\/sh -c sleep 1000 & wait$/);
    expect(lines[2]).to.match(/ sleep 1000$/);
  });

  it('ps_args choose the columns; the last column keeps its spaces; a forest listing (no -q) works too', async () => {
    const o = await d.api('GET', `/containers/top-web/top?ps_args=${encodeURIComponent('-o pid,comm,args')}`);
    expect(o.status, o.text).to.equal(200);
    expect(o.body).to.deep.equal({ Titles: ['PID', 'COMMAND', 'COMMAND'], Processes: [[String(pid1), 'sh', '/bin/sh -c sleep 1000 & wait'], [String(child), 'sleep', 'sleep 1000']] });
    const forest = await d.docker(['top', 'top-web', 'axf']);
    expect(forest.code, forest.stderr).to.equal(0);
    expect(forest.stdout.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).to.deep.equal([pid1, child]);
    expect(forest.stdout).to.include('\\_ sleep 1000');
  });

  it('skiff top NAME [ps args] prints the same table', async () => {
    const r = await d.cli(['top', 'top-web', '-o', 'pid,comm']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/))).to.deep.equal([['PID', 'COMMAND'], [String(pid1), 'sh'], [String(child), 'sleep']]);
  });

  it('a ps that fails is a 500 with ps\'s own first line; a renamed PID column is refused (400)', async () => {
    const bad = await d.api('GET', '/containers/top-web/top?ps_args=--bogus');
    expect(bad.status).to.equal(500);
    expect(bad.body).to.deep.equal({ message: 'ps --bogus: error: unknown gnu long option' });
    const sneaky = await d.api('GET', `/containers/top-web/top?ps_args=${encodeURIComponent('-o user=PID')}`);
    expect(sneaky.status).to.equal(400);
    expect(sneaky.body).to.deep.equal({ message: 'ps_args: specifying "user=PID" is not allowed', field: 'ps_args' });
  });

  it('a container that is not running: 409 naming it; an unknown one: 404', async () => {
    const run = await d.docker(['run', '--name', 'top-done', 'host', '/bin/true']);
    expect(run.code, run.stderr).to.equal(0);
    const r = await d.api('GET', '/containers/top-done/top');
    expect(r.status).to.equal(409);
    expect(r.body).to.deep.equal({ message: 'Container top-done is not running' });
    const cli = await d.docker(['top', 'top-done']);
    expect(cli.code).to.equal(1);
    expect(cli.stderr).to.include('Container top-done is not running');
    expect((await d.api('GET', '/containers/top-nobody/top')).status).to.equal(404);
  });
});
