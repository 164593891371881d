// docker rename (POST /containers/{id}/rename?name=): everything keyed by the name moves with
// it. A running container stays supervised (its exit is recorded under the new name, a wait
// begun under the old name ends), its state dir and console log move, the rename event names
// the old name, and a restarted skiffd knows it by the new name.
import { expect } from 'chai';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, readAll } from '../../src/api/http-client.js';
import { requireDocker, TestDaemon, until, useDaemon } from '../support/daemon.js';
import { TempDirs } from '../support/tmp.js';

interface Inspect { Name: string; Id: string; State: { Status: string; Pid: number; ExitCode: number }; Config: { Hostname: string } }

describe('docker rename: a new name for a container, running or not', function () {
  this.timeout(60_000);
  before(requireDocker);
  const d = useDaemon();
  const tmp = new TempDirs();
  after(() => tmp.removeAll());
  // A failed test must not leave its containers (and their names) to the next one.
  afterEach(async () => {
    const list = (await d.api('GET', '/containers/json?all=1')).body as { Id: string }[];
    await Promise.all(list.map((c) => d.api('DELETE', `/containers/${c.Id}?force=1`)));
  });

  const docker = async (args: string[]): Promise<string> => {
    const r = await d.docker(args);
    expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };

  it('a running container renamed: ps, inspect, logs and its state dir use the new name; stop by it and the wait (begun before) returns its code', async () => {
    const since = new Date().toISOString();
    // A console log file, so the moved state dir's log is checked too.
    const created = await d.api('POST', '/containers/create?name=ren-a', {
      Image: 'host', Cmd: ['/bin/sh', '-c', 'echo before; trap "echo after; exit 7" TERM; while true; do sleep 0.05; done'],
      Skiff: { Console: { log: true } },
    });
    expect(created.status, created.text).to.equal(201);
    await docker(['start', 'ren-a']);
    await until(async () => (await docker(['logs', 'ren-a'])).includes('before'), 'the first output');
    const pid = ((await d.api('GET', '/containers/ren-a/json')).body as Inspect).State.Pid;
    // A wait begun under the old name: its response headers mean skiffd holds the waiter.
    const waiting = await open(d.socket, 'POST', '/containers/ren-a/wait');

    await docker(['rename', 'ren-a', 'ren-b']);
    expect((await docker(['ps', '--format', '{{.Names}}'])).trim().split('\n')).to.deep.equal(['ren-b']);
    const info = (await d.api('GET', '/containers/ren-b/json')).body as Inspect;
    expect([info.Name, info.State.Status, info.State.Pid, info.Config.Hostname]).to.deep.equal(['/ren-b', 'running', pid, 'ren-a']);
    expect((await d.api('GET', '/containers/ren-a/json')).status).to.equal(404);
    expect(existsSync(join(d.stateDir, 'ren-a'))).to.equal(false);
    expect(JSON.parse(readFileSync(join(d.stateDir, 'ren-b', 'state.json'), 'utf8'))).to.include({ name: 'ren-b', status: 'running', pid });

    await docker(['stop', 'ren-b']);
    expect(JSON.parse((await readAll(waiting)).toString('utf8'))).to.deep.equal({ StatusCode: 7, Error: null });
    expect((await docker(['wait', 'ren-b'])).trim()).to.equal('7');
    expect(await docker(['logs', 'ren-b'])).to.equal('before\nafter\n');
    // The log file was written through one fd while its directory moved: all of it is in the new dir.
    expect((await d.cli(['logs', '--all', 'ren-b'])).stdout).to.equal('before\nafter\n');
    expect(JSON.parse(readFileSync(join(d.stateDir, 'ren-b', 'state.json'), 'utf8'))).to.include({ name: 'ren-b', status: 'exited', exitCode: 7 });

    const events = await docker(['events', '--since', since, '--until', new Date().toISOString(), '--filter', 'event=rename',
      '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.oldName}}']);
    expect(events.trim()).to.equal('rename ren-b /ren-a');
    // The old name is free again, and a stopped container renames too.
    await docker(['run', '-d', '--name', 'ren-a', 'host', '/bin/sleep', '30']);
    await docker(['rename', 'ren-b', 'ren-c']);
    expect((await docker(['ps', '-a', '--format', '{{.Names}} {{.State}}'])).trim().split('\n').sort()).to.deep.equal(['ren-a running', 'ren-c exited']);
    await docker(['rm', '-f', 'ren-a', 'ren-c']);
  });

  it('a console log rotated after the rename is rotated in the new state dir', async () => {
    const created = await d.api('POST', '/containers/create?name=ren-log', {
      // USR1: more than logMax in one go; USR2: the next record, at which the log rotates (it rotates between records).
      Image: 'host', Cmd: ['/bin/sh', '-c', 'trap "head -c 10000 /dev/zero | tr -c x x; echo" USR1; trap "echo done" USR2; echo ready; while true; do sleep 0.05; done'],
      Skiff: { Console: { log: true, logMax: 4096 } },
    });
    expect(created.status, created.text).to.equal(201);
    await docker(['start', 'ren-log']);
    await until(async () => (await docker(['logs', 'ren-log'])).includes('ready'), 'the first output');
    await docker(['rename', 'ren-log', 'ren-log2']);
    await docker(['kill', '-s', 'USR1', 'ren-log2']);
    await until(async () => /x{10000}/.test(await docker(['logs', 'ren-log2'])), 'the 10000 bytes in the log');
    await docker(['kill', '-s', 'USR2', 'ren-log2']);
    const dir = join(d.stateDir, 'ren-log2');
    await until(async () => (await d.cli(['logs', '--all', 'ren-log2'])).stdout.endsWith('done\n'), 'the output after the rotation');
    expect(existsSync(join(dir, 'console.log.1'))).to.equal(true);
    expect(existsSync(join(d.stateDir, 'ren-log'))).to.equal(false);
    const all = await d.cli(['logs', '--all', 'ren-log2']);
    expect(all.stdout).to.match(/x{4000}/);
    expect(all.stdout.endsWith('done\n')).to.equal(true);
    await docker(['rm', '-f', 'ren-log2']);
  });

  it('a taken name is a 409 naming it, a bad name a 400 quoting it, the same name a 400; skiff rename works', async () => {
    await docker(['run', '-d', '--name', 'ren-x', 'host', '/bin/sleep', '30']);
    await docker(['run', '-d', '--name', 'ren-y', 'host', '/bin/sleep', '30']);
    const y = ((await d.api('GET', '/containers/ren-y/json')).body as Inspect).Id;
    const taken = await d.api('POST', '/containers/ren-x/rename?name=ren-y');
    expect(taken.status).to.equal(409);
    expect(taken.body).to.deep.equal({ message: `Conflict. The container name "/ren-y" is already in use by container "${y}". You have to remove (or rename) that container to be able to reuse that name.` });
    const cli = await d.docker(['rename', 'ren-x', 'ren-y']);
    expect(cli.code).to.equal(1);
    expect(cli.stderr).to.include('The container name "/ren-y" is already in use');
    const bad = await d.api('POST', `/containers/ren-x/rename?name=${encodeURIComponent('no/slash')}`);
    expect(bad.status).to.equal(400);
    expect(bad.body).to.deep.equal({ message: 'Invalid container name: name must match [A-Za-z0-9][A-Za-z0-9_.-]{0,62}, got "no/slash"', field: 'name' });
    const same = await d.api('POST', '/containers/ren-x/rename?name=ren-x');
    expect(same.status).to.equal(400);
    expect(same.body).to.deep.equal({ message: 'Renaming a container with the same name as its current name (ren-x)', field: 'name' });
    expect((await d.api('POST', '/containers/ren-x/rename')).status).to.equal(400);
    expect((await d.api('POST', '/containers/ren-nobody/rename?name=ren-z')).status).to.equal(404);

    const r = await d.cli(['rename', 'ren-x', 'ren-z']);
    expect(r.code, r.stderr).to.equal(0);
    expect((await docker(['ps', '--format', '{{.Names}}'])).trim().split('\n').sort()).to.deep.equal(['ren-y', 'ren-z']);
    await docker(['rm', '-f', 'ren-y', 'ren-z']);
  });

  it('a fleet member renamed stays in its fleet (by its record and labels), and fleet down removes it', async () => {
    const file = join(tmp.make('fleet'), 'rf.yaml');
    writeFileSync(file, 'name: rf\nservices:\n  svc:\n    image: host\n    command: [/bin/sleep, "30"]\n');
    const up = await d.cli(['fleet', 'up', '--wait', file]);
    expect(up.code, up.stderr).to.equal(0);
    await docker(['rename', 'rf-svc-1', 'rf-renamed']);
    const view = (await d.api('GET', '/fleets/rf?containers=1')).body as { services: { containers: { name: string; status: string }[] }[] };
    expect(view.services[0]!.containers).to.have.length(1);
    expect(view.services[0]!.containers[0]).to.include({ name: 'rf-renamed', status: 'running' });
    const down = await d.cli(['fleet', 'down', '--name', 'rf']);
    expect(down.code, down.stderr).to.equal(0);
    expect((await d.api('GET', '/containers/rf-renamed/json')).status).to.equal(404);
  });
});

describe('docker rename across a skiffd restart', function () {
  this.timeout(60_000);
  before(requireDocker);

  it('a running container renamed, then skiffd restarted: it is adopted under its new name and stops by it', async () => {
    const d = new TestDaemon();
    await d.start();
    try {
      expect((await d.docker(['run', '-d', '--name', 'ren-old', 'host', '/bin/sleep', '60'])).code).to.equal(0);
      const pid = ((await d.api('GET', '/containers/ren-old/json')).body as Inspect).State.Pid;
      const r = await d.docker(['rename', 'ren-old', 'ren-new']);
      expect(r.code, r.stderr).to.equal(0);
      await d.stop();
      await d.start();
      const info = (await d.api('GET', '/containers/ren-new/json')).body as Inspect;
      expect([info.Name, info.State.Status, info.State.Pid]).to.deep.equal(['/ren-new', 'running', pid]);
      expect((await d.api('GET', '/containers/ren-old/json')).status).to.equal(404);
      const stop = await d.docker(['stop', '-t', '1', 'ren-new']);
      expect(stop.code, stop.stderr).to.equal(0);
      // Adopted, it is not skiffd's child: its exit code is unknown (-1), as for any adopted container.
      const after = (await d.api('GET', '/containers/ren-new/json')).body as Inspect & { State: { Error: string } };
      expect([after.State.Status, after.State.ExitCode, after.State.Error]).to.deep.equal(['exited', -1, 'exit status unknown (adopted after a daemon restart)']);
      // skiffd died between moving a rename's directory and writing its state.json: the directory's name wins.
      await d.stop();
      renameSync(join(d.stateDir, 'ren-new'), join(d.stateDir, 'ren-moved'));
      await d.start();
      const moved = (await d.api('GET', '/containers/ren-moved/json')).body as Inspect;
      expect([moved.Name, moved.State.Status]).to.deep.equal(['/ren-moved', 'exited']);
      expect((await d.api('GET', '/containers/ren-new/json')).status).to.equal(404);
    } finally {
      await d.destroy();
    }
  });
});
