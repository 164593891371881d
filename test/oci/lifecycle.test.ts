// OCI runtime conformance, lifecycle (runtime spec: "Lifecycle", "State", "Operations"):
// create → created (the program not yet run), start → running, the init's exit → stopped,
// delete → gone; kill and delete semantics; invalid transitions refused with runc's wording
// (containerd and podman match on it), exit status 1, nothing changed. The same tests run
// against runc: SKIFF_OCI_RUNTIME=runc npm run test:oci.
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../support/wait.js';
import { IS_SKIFF, RUNTIME, Runtime, makeBundle, outFile, reap, useCgroupParentCleanup, useOciTempDirs, useSubreaper } from './runtime.js';

describe(`OCI lifecycle (${RUNTIME.name})`, function () {
  const tmp = useOciTempDirs();
  useSubreaper();
  useCgroupParentCleanup();
  let rt: Runtime;
  const ids = new Set<string>();
  let n = 0;
  const newId = (): string => {
    const id = `life-${process.pid}-${n++}`;
    ids.add(id);
    return id;
  };

  before(() => {
    rt = new Runtime(tmp);
  });
  afterEach(() => {
    rt.cleanup(ids);
    ids.clear();
  });

  it('create leaves the init created, its program not yet run; start runs it; its exit is stopped; delete removes it', async () => {
    const b = makeBundle(tmp, 'echo started > /out/started; exec sleep 1000');
    const id = newId();
    const pidFile = join(tmp.make('pid'), 'init.pid');
    rt.ok(['create', '--bundle', b.dir, '--pid-file', pidFile, id]);
    const created = rt.state(id);
    expect(created).to.include({ id, status: 'created', bundle: b.dir });
    expect(created.ociVersion).to.match(/^1\.\d+\.\d+/);
    expect(created.pid).to.be.above(0);
    expect(Number(readFileSync(pidFile, 'utf8'))).to.equal(created.pid);
    expect(existsSync(`/proc/${created.pid}`), 'the init exists').to.equal(true);
    expect(outFile(b, 'started'), 'the program has not run before start').to.equal(null);

    rt.ok(['start', id]);
    await until(() => outFile(b, 'started'), 'the program to run after start');
    expect(rt.state(id)).to.include({ status: 'running', pid: created.pid });

    rt.ok(['kill', id, 'KILL']);
    await until(() => rt.state(id).status === 'stopped', 'the container to be stopped after SIGKILL');
    expect(rt.state(id).pid).to.equal(0);
    reap(created.pid);
    rt.ok(['delete', id]);
    const gone = rt.call(['state', id]);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.include('container does not exist');
    expect(readdirSync(rt.root)).to.not.include(id);
    // skiff-oci's default cgroup (no linux.cgroupsPath) and its own level are gone too
    if (IS_SKIFF) for (const h of readdirSync('/sys/fs/cgroup')) expect(existsSync(`/sys/fs/cgroup/${h}/skiff-oci/${id}`), `cgroup ${h}`).to.equal(false);
  });

  it('a program that exits by itself is stopped, and delete needs no --force', async () => {
    const b = makeBundle(tmp, 'exit 3');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    const { pid } = rt.state(id);
    rt.ok(['start', id]);
    await until(() => rt.state(id).status === 'stopped', 'the program to exit');
    reap(pid);
    rt.ok(['delete', id]);
  });

  it('the state JSON: ociVersion, id, status, pid, bundle, and the annotations of config.json', () => {
    const b = makeBundle(tmp, 'sleep 1000');
    b.config.annotations = { 'org.example.key': 'value with spaces', 'empty': '' };
    b.write();
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    const s = rt.state(id);
    expect(Object.keys(s)).to.include.members(['ociVersion', 'id', 'status', 'pid', 'bundle', 'annotations']);
    expect(s.annotations).to.deep.equal({ 'org.example.key': 'value with spaces', 'empty': '' });
  });

  it('start of a running container, and of a stopped one, are refused with runc\'s words', async () => {
    const b = makeBundle(tmp, 'sleep 1000');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    const again = rt.call(['start', id]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('cannot start an already running container');
    const { pid } = rt.state(id);
    rt.ok(['kill', id, '9']);
    await until(() => rt.state(id).status === 'stopped', 'the container to stop');
    reap(pid);
    const stopped = rt.call(['start', id]);
    expect(stopped.code).to.equal(1);
    expect(stopped.stderr).to.include('cannot start a container that has stopped');
  });

  it('delete of a running container needs --force; kill of a stopped one says container not running', async () => {
    const b = makeBundle(tmp, 'sleep 1000');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    const { pid } = rt.state(id);
    const refused = rt.call(['delete', id]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`cannot delete container ${id} that is not stopped: running`);
    expect(rt.state(id).status).to.equal('running');
    rt.ok(['kill', id, 'SIGKILL']);
    await until(() => rt.state(id).status === 'stopped', 'the container to stop');
    const late = rt.call(['kill', id, 'TERM']);
    expect(late.code).to.equal(1);
    expect(late.stderr).to.include('container not running');
    reap(pid);
    rt.ok(['delete', '--force', id]);
    expect(existsSync(`/proc/${pid}`)).to.equal(false);
  });

  it('delete --force of a running container kills it and removes it', () => {
    const b = makeBundle(tmp, 'sleep 1000');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    const { pid } = rt.state(id);
    rt.ok(['delete', '--force', id]);
    reap(pid);
    expect(existsSync(`/proc/${pid}`), 'the init is gone').to.equal(false);
    expect(rt.call(['state', id]).stderr).to.include('container does not exist');
  });

  it('delete of a created container (never started) removes it and its init', () => {
    const b = makeBundle(tmp, 'echo ran > /out/ran');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    const { pid } = rt.state(id);
    rt.ok(['delete', id]);
    reap(pid);
    expect(existsSync(`/proc/${pid}`)).to.equal(false);
    expect(outFile(b, 'ran'), 'the program never ran').to.equal(null);
  });

  it('kill takes a signal by number, by name and by SIG name; the default is SIGTERM', async () => {
    for (const signal of ['15', 'TERM', 'SIGTERM', null]) {
      const b = makeBundle(tmp, 'trap "echo term > /out/sig; exit 0" TERM; echo ready > /out/ready; while true; do sleep 0.1; done');
      const id = newId();
      rt.ok(['create', '--bundle', b.dir, id]);
      rt.ok(['start', id]);
      await until(() => outFile(b, 'ready'), 'the trap to be set');
      rt.ok(['kill', id, ...(signal === null ? [] : [signal])]);
      expect(await until(() => outFile(b, 'sig'), `the trap to run after kill ${signal ?? '(default)'}`)).to.equal('term\n');
      const { pid } = rt.state(id);
      await until(() => rt.state(id).status === 'stopped', 'the container to stop');
      reap(pid);
      rt.ok(['delete', id]);
    }
  });

  it('kill --all signals every process of the container', async () => {
    // The init catches SIGTERM (a handler, which its children do not inherit) and lives on; its
    // two `sleep 1000` children die of it: --all reaches them, a plain kill would not.
    const b = makeBundle(tmp, 'trap "echo caught >> /out/trapped" TERM; sleep 1000 & sleep 1000 & echo ready > /out/ready; while true; do sleep 0.2; done');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    await until(() => outFile(b, 'ready'), 'the children to start');
    const sleepers = (): number => (JSON.parse(rt.ok(['ps', '--format', 'json', id])) as number[])
      .filter((pid) => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\x001000\x00').length;
    await until(() => sleepers() === 2, 'two sleep 1000 in the container');
    rt.ok(['kill', '--all', id, 'TERM']);
    await until(() => sleepers() === 0, 'the children to be gone');
    await until(() => outFile(b, 'trapped'), 'the init to catch its SIGTERM');
    expect(rt.state(id).status).to.equal('running');
  });

  it('exec --process: the process runs in the container\'s namespaces and root, and its status is exec\'s', async () => {
    const b = makeBundle(tmp, 'echo ready > /out/ready; sleep 1000');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    await until(() => outFile(b, 'ready'), 'the container to start');
    const procFile = join(tmp.make('oci-exec'), 'process.json');
    const proc = { ...b.config.process, args: ['sh', '-c', 'cat /proc/sys/kernel/hostname > /out/exec-host; readlink /proc/self/ns/net > /out/exec-net; exit 7'] };
    writeFileSync(procFile, JSON.stringify(proc));
    expect(rt.call(['exec', '--process', procFile, id]).code).to.equal(7);
    expect(outFile(b, 'exec-host')).to.equal('oci-test\n');
    expect(outFile(b, 'exec-net')).to.equal(`${readlinkSync(`/proc/${rt.state(id).pid}/ns/net`)}\n`);
    const pidFile = join(tmp.make('oci-exec'), 'exec.pid');
    writeFileSync(procFile, JSON.stringify({ ...proc, args: ['sleep', '999'] }));
    rt.ok(['exec', '--detach', '--pid-file', pidFile, '--process', procFile, id]);
    const execPid = Number(readFileSync(pidFile, 'utf8'));
    expect(JSON.parse(rt.ok(['ps', '--format', 'json', id]))).to.include(execPid);
    expect(readFileSync(`/proc/${execPid}/cmdline`, 'utf8')).to.equal('sleep\x00999\x00');
    // The detached process is this subreaper's child now, as it would be the shim's: ended and
    // reaped here, so that the container's cgroup holds no zombie when it is deleted.
    process.kill(execPid, 'SIGKILL');
    await until(() => !existsSync(`/proc/${execPid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${execPid}/status`, 'utf8')), 'the exec\'d process to end');
    reap(execPid);
  });

  it('ps --format json lists the container\'s pids', () => {
    const b = makeBundle(tmp, 'sleep 1000');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    const { pid } = rt.state(id);
    expect(JSON.parse(rt.ok(['ps', '--format', 'json', id]))).to.deep.equal([pid]);
  });

  it('pause freezes every process of the container, resume thaws them', async () => {
    const b = makeBundle(tmp, 'i=0; while true; do i=$((i+1)); echo $i > /out/tick; sleep 0.05; done');
    const id = newId();
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    await until(() => outFile(b, 'tick'), 'the loop to tick');
    rt.ok(['pause', id]);
    expect(rt.state(id).status).to.equal('paused');
    // every process of the container is in the frozen cgroup
    expect((JSON.parse(rt.ok(['ps', '--format', 'json', id])) as number[]).length).to.be.above(1);
    const paused = outFile(b, 'tick');
    expect(rt.call(['pause', id]).code, 'pause of a paused container').to.equal(1);
    rt.ok(['resume', id]);
    expect(rt.state(id).status).to.equal('running');
    await until(() => outFile(b, 'tick') !== paused, 'the loop to tick again after resume');
    expect(rt.call(['resume', id]).code, 'resume of a running container').to.equal(1);
  });

  it('features answers the OCI 1.1 JSON; --version names the version, commit and spec', () => {
    const f = JSON.parse(rt.ok(['features'])) as { ociVersionMin: string; ociVersionMax: string; hooks: string[]; linux: { namespaces: string[] } };
    expect(f.ociVersionMin).to.match(/^1\.0\./);
    expect(f.ociVersionMax).to.match(/^1\.\d+\./);
    expect(f.hooks).to.include.members(['prestart', 'poststart', 'poststop']);
    expect(f.linux.namespaces).to.include.members(['pid', 'network', 'mount', 'ipc', 'uts', 'user']);
    const lines = rt.ok(['--version']).split('\n');
    expect(lines[0]).to.match(/version \d+\.\d+\.\d+/);
    expect(lines[1]).to.match(/^commit: /);
    expect(lines[2]).to.match(/^spec: 1\.\d+\.\d+/);
  });

  it('a namespace joined by path: the second container is in the first one\'s network namespace', async () => {
    const first = makeBundle(tmp, 'sleep 1000');
    const a = newId();
    rt.ok(['create', '--bundle', first.dir, a]);
    const host = readlinkSync(`/proc/${rt.state(a).pid}/ns/net`);
    const second = makeBundle(tmp, 'readlink /proc/self/ns/net > /out/net');
    second.config.linux.namespaces = [{ type: 'pid' }, { type: 'network', path: `/proc/${rt.state(a).pid}/ns/net` }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
    second.write();
    const b = newId();
    rt.ok(['create', '--bundle', second.dir, b]);
    const { pid } = rt.state(b);
    rt.ok(['start', b]);
    expect(await until(() => outFile(second, 'net'), 'the second container to report its namespace')).to.equal(`${host}\n`);
    await until(() => rt.state(b).status === 'stopped', 'the second container to exit');
    reap(pid);
  });

  it('a pid namespace joined by path: the second container sees the first one\'s processes, its PID 1 among them', async () => {
    const first = makeBundle(tmp, 'exec sleep 1000');
    const a = newId();
    rt.ok(['create', '--bundle', first.dir, a]);
    rt.ok(['start', a]);
    const initA = rt.state(a).pid;
    const pidns = readlinkSync(`/proc/${initA}/ns/pid`);
    const second = makeBundle(tmp, 'readlink /proc/self/ns/pid > /out/ns; tr "\\0" " " < /proc/1/cmdline > /out/one');
    second.config.linux.namespaces = [{ type: 'pid', path: `/proc/${initA}/ns/pid` }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
    second.write();
    const b = newId();
    rt.ok(['create', '--bundle', second.dir, b]);
    const { pid } = rt.state(b);
    rt.ok(['start', b]);
    await until(() => rt.state(b).status === 'stopped', 'the second container to run and exit');
    reap(pid);
    expect(outFile(second, 'ns')).to.equal(`${pidns}\n`);
    expect(outFile(second, 'one')).to.equal('sleep 1000 ');
  });

  describe('errors, each exit status 1 and nothing left behind', () => {
    const nothingLeft = (id: string): void => {
      expect(rt.call(['state', id]).stderr).to.include('container does not exist');
      expect(existsSync(join(rt.root, id))).to.equal(false);
    };

    it('an id that exists', () => {
      const b = makeBundle(tmp, 'sleep 1000');
      const id = newId();
      rt.ok(['create', '--bundle', b.dir, id]);
      const r = rt.call(['create', '--bundle', b.dir, id]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('container with given ID already exists');
      expect(rt.state(id).status).to.equal('created');
    });

    it('a config.json that is not JSON', () => {
      const b = makeBundle(tmp, 'true');
      b.config = '{"ociVersion": ' as never;
      b.write();
      const id = newId();
      const r = rt.call(['create', '--bundle', b.dir, id]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/JSON|unexpected end|EOF/i);
      nothingLeft(id);
    });

    it('a missing rootfs', () => {
      const b = makeBundle(tmp, 'true');
      b.config.root = { path: 'no-such-rootfs' };
      b.write();
      const id = newId();
      const r = rt.call(['create', '--bundle', b.dir, id]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include(`invalid rootfs: stat ${join(b.dir, 'no-such-rootfs')}: no such file or directory`);
      nothingLeft(id);
    });

    it('a program that is not in the rootfs', () => {
      const b = makeBundle(tmp, 'true');
      b.config.process.args = ['/no/such/program'];
      b.write();
      const id = newId();
      const r = rt.call(['create', '--bundle', b.dir, id]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('/no/such/program');
      nothingLeft(id);
    });

    it('a mount the kernel refuses, deep in the set-up: no init, no cgroup, no state', () => {
      const b = makeBundle(tmp, 'true');
      const path = `/skiff-oci-test/fail-${process.pid}`;
      b.config.linux.cgroupsPath = path;
      b.config.mounts.push({ destination: '/bad', type: 'tmpfs', source: 'tmpfs', options: ['size=not-a-size'] });
      b.write();
      const id = newId();
      const r = rt.call(['create', '--bundle', b.dir, id]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('/bad');
      nothingLeft(id);
      for (const h of ['memory', 'pids', 'cpu', 'unified']) expect(existsSync(`/sys/fs/cgroup/${h}${path}`), `cgroup ${h}${path}`).to.equal(false);
    });

    it('--log FILE --log-format json: the error is the last {"level":"error","msg":…} line, as containerd reads it', () => {
      const log = join(tmp.make('oci-log'), 'log.json');
      const r = rt.call(['--log', log, '--log-format', 'json', 'start', 'no-such-container']);
      expect(r.code).to.equal(1);
      const last = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop()!) as { level: string; msg: string };
      expect(last.level).to.equal('error');
      expect(last.msg).to.include('container does not exist');
    });

    it('state, kill, start and delete of an id that does not exist', () => {
      for (const args of [['state'], ['kill'], ['start'], ['delete']]) {
        const r = rt.call([...args, 'no-such-container']);
        expect(r.code, args.join(' ')).to.equal(1);
        expect(r.stderr, args.join(' ')).to.include('container does not exist');
      }
      // delete --force of what is not there is done already (containerd's shim deletes twice)
      expect(rt.call(['delete', '--force', 'no-such-container'])).to.deep.include({ code: 0, stderr: '' });
    });
  });
});
