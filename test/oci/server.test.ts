// skiff-oci's C front end (build/skiff-oci) and its warm server: started on demand by the first
// call on a --root, one however many calls start it at once, ended by idleness; a server killed
// mid-create leaves nothing behind and the next call starts another; the Node command line runs
// the call when the server is turned off or cannot be had; a bad --root is an error that makes
// nothing; the server answers callers of its own uid only. Only for skiff-oci's front end.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../support/wait.js';
import { RUNTIME, Runtime, SKIFF_OCI, makeBundle, reap, serverPid, useCgroupParentCleanup, useOciTempDirs, useSubreaper } from './runtime.js';

const SERVER_DIR = 'skiff-oci:server';

/** Every live skiff-oci server process for `root` (zombies are gone). */
function serverProcs(root: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // the server's process title: `skiff-oci-server ROOT`
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')[0] === `skiff-oci-server ${root}` && alive(Number(e))) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('skiff-oci front end and its server', function () {
  const tmp = useOciTempDirs();
  useSubreaper();
  useCgroupParentCleanup();
  const made: { rt: Runtime; ids: string[] }[] = [];
  let n = 0;

  before(function () {
    if (RUNTIME.path !== SKIFF_OCI) this.skip();
  });
  afterEach(() => {
    for (const { rt, ids } of made.splice(0)) rt.cleanup(ids);
  });

  /** A runtime whose --root exists (the first create on a root that does not is the Node command line's). */
  const runtime = (): { rt: Runtime; newId: () => string } => {
    const rt = new Runtime(tmp);
    mkdirSync(rt.root, { mode: 0o700 });
    const entry = { rt, ids: [] as string[] };
    made.push(entry);
    return { rt, newId: () => { const id = `srv-${process.pid}-${n++}`; entry.ids.push(id); return id; } };
  };

  it('the first call starts the server, later calls use it, and it ends by itself once idle', async () => {
    const { rt } = runtime();
    const env = { ...process.env, SKIFF_OCI_SERVER_IDLE_MS: '1500' };
    const first = rt.call(['state', 'none'], { env });
    expect(first.code).to.equal(1);
    expect(first.stderr).to.include('container does not exist');
    const pid = serverPid(rt.root);
    expect(pid, 'a server for the root').to.not.equal(null);
    expect(rt.call(['state', 'none'], { env }).stderr).to.include('container does not exist');
    expect(serverProcs(rt.root)).to.deep.equal([pid]);
    await until(() => !alive(pid!), 'the idle server to end');
    reap(pid!);
    expect(readdirSync(join(rt.root, SERVER_DIR)).sort(), 'its socket and pid file removed').to.deep.equal(['lock']);
    // and the next call starts another
    expect(rt.call(['state', 'none']).stderr).to.include('container does not exist');
    expect(serverPid(rt.root)).to.not.equal(null).and.to.not.equal(pid);
  });

  it('a relative --root is taken from the caller\'s cwd, by the server too', () => {
    const { rt } = runtime();
    const r = spawnSync(SKIFF_OCI, ['--root', 'state', 'state', 'none'], { cwd: join(rt.root, '..'), encoding: 'utf8' });
    expect(r.stderr).to.include('container does not exist');
    expect(serverProcs(rt.root), 'a server for the root, named by its absolute path').to.have.length(1);
  });

  it('calls that start a server at the same time start one', async () => {
    const { rt } = runtime();
    const results = await Promise.all([0, 1, 2, 3].map(() => rt.callAsync(['state', 'none'])));
    for (const r of results) {
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('container does not exist');
    }
    expect(serverProcs(rt.root)).to.have.length(1);
  });

  it('a server killed mid-create: the create fails, nothing is left, and the next call starts another server', async () => {
    const { rt, newId } = runtime();
    rt.call(['state', 'none']);
    const first = serverPid(rt.root)!;
    const b = makeBundle(tmp, 'exec sleep 1000');
    const hook = tmp.make('hook');
    // The hook runs while create is in the server, the init made and waiting for start.
    b.config.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `echo $$ > ${hook}/pid.tmp && mv ${hook}/pid.tmp ${hook}/pid; exec sleep 1000`] }] };
    b.write();
    const id = newId();
    const creating = rt.callAsync(['create', '--bundle', b.dir, id]);
    const hookPid = Number(await until(() => existsSync(join(hook, 'pid')) && readFileSync(join(hook, 'pid'), 'utf8'), 'the createRuntime hook to run'));
    const initPid = (JSON.parse(readFileSync(join(rt.root, id, 'state.json'), 'utf8')) as { pid: number }).pid;
    expect(initPid).to.be.above(0);
    process.kill(first, 'SIGKILL');
    const r = await creating;
    process.kill(hookPid, 'SIGKILL');
    reap(hookPid);
    reap(first);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.include('the server ended during the call');
    await until(() => !alive(initPid), 'the init to be killed');
    reap(initPid);
    expect(existsSync(join(rt.root, id)), 'the container\'s state').to.equal(false);
    for (const h of readdirSync('/sys/fs/cgroup')) expect(existsSync(`/sys/fs/cgroup/${h}/skiff-oci/${id}`), `cgroup ${h}`).to.equal(false);

    const next = makeBundle(tmp, 'exit 0');
    const id2 = newId();
    rt.ok(['create', '--bundle', next.dir, id2]);
    expect(serverPid(rt.root)).to.not.equal(null).and.to.not.equal(first);
    const pid2 = rt.state(id2).pid;
    rt.ok(['start', id2]);
    await until(() => rt.state(id2).status === 'stopped', 'the second container to run and stop');
    reap(pid2);
    rt.ok(['delete', id2]);
    expect(existsSync(join(rt.root, id2))).to.equal(false);
  });

  it('SKIFF_OCI_SERVER=0: the Node command line runs the calls, and no server is started', async () => {
    const { rt, newId } = runtime();
    const env = { ...process.env, SKIFF_OCI_SERVER: '0' };
    const b = makeBundle(tmp, 'echo ran > /out/ran');
    const id = newId();
    expect(rt.call(['create', '--bundle', b.dir, id], { env }).code).to.equal(0);
    const pid = (JSON.parse(rt.call(['state', id], { env }).stdout) as { pid: number }).pid;
    expect(rt.call(['start', id], { env }).code).to.equal(0);
    await until(() => existsSync(join(b.out, 'ran')), 'the program to run');
    await until(() => (JSON.parse(rt.call(['state', id], { env }).stdout) as { status: string }).status === 'stopped', 'the container to stop');
    reap(pid);
    expect(rt.call(['delete', id], { env }).code).to.equal(0);
    expect(existsSync(join(rt.root, SERVER_DIR)), 'no server directory').to.equal(false);
    expect(serverProcs(rt.root)).to.deep.equal([]);
  });

  it('a server that cannot be had (its directory is not one): the Node command line runs the call', () => {
    const { rt, newId } = runtime();
    writeFileSync(join(rt.root, SERVER_DIR), 'not a directory');
    const b = makeBundle(tmp, 'exit 0');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    expect(rt.state(id).status).to.equal('created');
    rt.ok(['delete', '--force', id]);
    expect(serverProcs(rt.root)).to.deep.equal([]);
  });

  it('a bad --root: exit 1, the error names it, and nothing is made', () => {
    const file = join(tmp.make('bad-root'), 'file');
    writeFileSync(file, '');
    const b = makeBundle(tmp, 'exit 0');
    const under = spawnSync(SKIFF_OCI, ['--root', join(file, 'sub'), 'create', '--bundle', b.dir, 'x'], { encoding: 'utf8' });
    expect(under.status).to.equal(1);
    expect(under.stderr).to.include(join(file, 'sub')).and.to.include('ENOTDIR');
    const missing = join(tmp.make('bad-root'), 'missing');
    const state = spawnSync(SKIFF_OCI, ['--root', missing, 'state', 'x'], { encoding: 'utf8' });
    expect(state.status).to.equal(1);
    expect(state.stderr).to.include('container does not exist');
    expect(existsSync(missing), 'the root is not made by a state call').to.equal(false);
    expect(serverProcs(join(file, 'sub'))).to.deep.equal([]);
    expect(serverProcs(missing)).to.deep.equal([]);
  });

  it('the server answers callers of its own uid only (SO_PEERCRED)', () => {
    const { rt } = runtime();
    rt.call(['state', 'none']);
    expect(serverPid(rt.root)).to.not.equal(null);
    const dir = join(rt.root, SERVER_DIR);
    // Opened to another user here only to reach the check behind the directory modes.
    const client = `const s = require('net').connect(process.argv[1]); let d = ''; s.on('data', (c) => { d += c.toString('latin1'); }); s.on('close', () => process.stdout.write(d)); s.on('error', (e) => process.stdout.write('error ' + e.code));`;
    for (const p of [join(rt.root, '..'), rt.root, dir]) chmodSync(p, 0o711);
    chmodSync(join(dir, 'sock'), 0o666);
    try {
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', client, join(dir, 'sock')], { encoding: 'latin1', timeout: 30_000 });
      expect(r.stdout).to.include('answers uid 0 only, not uid 65534');
    } finally {
      chmodSync(join(dir, 'sock'), 0o600);
      for (const p of [rt.root, dir]) chmodSync(p, 0o700);
    }
  });
});
