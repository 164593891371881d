// Removal answers once the record is gone; the directory is emptied off the request path and
// kept as a spare for the next create (src/main/lifecycle/trash.ts). What must hold: the name is
// free at once, the backlog is counted in /metrics and drains, a reused directory carries
// nothing of the container before it (its state.json is overwritten before it takes the name),
// and a backlog left by a crash is finished by the next skiffd.
import { expect } from 'chai';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, until, useDaemon } from '../support/daemon.js';

const backlog = async (d: TestDaemon): Promise<number> => {
  const m = /^skiff_removal_backlog (\d+)$/m.exec((await d.api('GET', '/metrics')).text);
  if (!m) throw new Error('/metrics has no skiff_removal_backlog');
  return Number(m[1]);
};

describe('removal off the request path', function () {
  const d = useDaemon();

  /** A container with a console log file (so that a reused directory has one to carry over), run to its end. */
  const runLogged = async (name: string, script: string): Promise<void> => {
    const c = await d.api('POST', `/containers/create?name=${name}`, { Image: 'host', Cmd: ['/bin/sh', '-c', script], HostConfig: { NetworkMode: 'none' }, Skiff: { Console: { log: true } } });
    expect(c.status, c.text).to.equal(201);
    expect((await d.api('POST', `/containers/${name}/start`)).status).to.equal(204);
    expect((await d.api('POST', `/containers/${name}/wait`)).body).to.deep.equal({ StatusCode: 0, Error: null });
  };

  it('the name is free once rm answers; the next container reuses the directory with nothing of the old one in it', async () => {
    await runLogged('old', 'echo secret-of-old; echo more-of-old >&2');
    expect(readFileSync(join(d.stateDir, 'old', 'console.log')).includes('secret-of-old'), 'the old log (the precondition)').to.equal(true);
    expect((await d.api('DELETE', '/containers/old')).status).to.equal(204);
    // The name is free at once: the same name again, right away.
    const again = await d.api('POST', '/containers/create?name=old', { Image: 'host', Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none' } });
    expect(again.status, again.text).to.equal(201);
    expect((await d.api('DELETE', '/containers/old')).status).to.equal(204);
    await until(async () => (await backlog(d)) === 0, 'the removal backlog to drain');
    const spares = readdirSync(join(d.stateDir, '.skiffd/spare'));
    expect(spares.length, 'spares kept').to.be.greaterThan(0);

    await runLogged('new', 'echo hello-from-new');
    const logs = await d.cli(['logs', 'new']);
    expect(logs.stdout + logs.stderr).to.equal('hello-from-new\n');
    const dir = join(d.stateDir, 'new');
    expect(readFileSync(join(dir, 'console.log')).includes('of-old')).to.equal(false);
    const stateText = readFileSync(join(dir, 'state.json'), 'utf8');
    expect(stateText, 'the old record overwritten whole').not.to.include('of-old');
    const state = JSON.parse(stateText) as { name: string; status: string };
    expect(state).to.include({ name: 'new', status: 'exited' });
    expect(readdirSync(join(d.stateDir, '.skiffd/spare')).length, 'one spare taken').to.equal(spares.length - 1);
  });
});

describe('removal off the request path, across a crash', function () {
  const d = new TestDaemon();
  after(() => d.destroy());

  it('what a dead skiffd left in the trash is emptied by the next one, and nothing else is touched', async () => {
    await d.start();
    await d.stop('SIGKILL');
    // As a removal leaves it: a container's directory moved into the trash, not yet emptied.
    const left = join(d.stateDir, '.skiffd/trash', '1.1');
    mkdirSync(join(left, 'layer/upper'), { recursive: true });
    writeFileSync(join(left, 'state.json'), '{"name":"gone"}\n');
    writeFileSync(join(left, 'console.log'), 'old output\n');
    writeFileSync(join(left, 'layer/upper/file'), 'x');
    await d.start();
    await until(() => readdirSync(join(d.stateDir, '.skiffd/trash')).length === 0, 'the trash to be emptied');
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
    const spare = join(d.stateDir, '.skiffd/spare/0');
    expect(readdirSync(spare).sort()).to.deep.equal(['console.log', 'state.json']);
    expect(readFileSync(join(spare, 'console.log'), 'utf8')).to.equal('');
    // Its state.json is left for the next create to overwrite before the directory takes a name
    // (state-store.ts), its blocks kept for that write (truncating freed them, a discard request
    // on a disk mounted with `discard`, only for the create to allocate them again): taken now,
    // the name shows the new record alone, not a byte of the old one.
    expect(statSync(join(spare, 'state.json')).blocks, 'the spare\'s state.json keeps its blocks').to.be.greaterThan(0);
    const taken = await d.api('POST', '/containers/create?name=taker', { Image: 'host', Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none' } });
    expect(taken.status, taken.text).to.equal(201);
    const text = readFileSync(join(d.stateDir, 'taker', 'state.json'), 'utf8');
    expect(text).not.to.include('gone');
    expect(JSON.parse(text)).to.include({ name: 'taker', status: 'created' });
    expect(readdirSync(join(d.stateDir, '.skiffd/spare')), 'the spare taken').to.deep.equal([]);
    await d.stop('SIGKILL');
    await d.start();
    expect(((await d.api('GET', '/containers/json?all=1')).body as { Names: string[] }[]).map((c) => c.Names)).to.deep.equal([['/taker']]);
    expect((await d.api('DELETE', '/containers/taker')).status).to.equal(204);
  });
});
