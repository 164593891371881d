// containerd drives skiff-oci as it drives runc: Debian's containerd 1.6 started here with a
// config, root, state dir and socket of its own (never the system's), a busybox image imported
// from an OCI layout, and `ctr run --runc-binary` (the io.containerd.runc.v2 shim with
// BinaryName set to the runtime under test, and its own --runc-root).
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxLayer } from '../support/busybox-layer.js';
import { writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';
import { RUNTIME, stopServer } from './runtime.js';

const IMAGE = 'docker.io/library/skiff-oci-box:1';

interface Ran { code: number; stdout: string; stderr: string }

describe(`containerd with ${RUNTIME.name}`, function () {
  // Removed at the very end of the after hook, once containerd is gone (useTempDirs' own hook would run first).
  const tmp = new TempDirs();
  let dir = '';
  let sock = '';
  let runcRoot = '';
  let containerd: ChildProcess | null = null;
  let n = 0;

  const ctr = (args: string[], opts: { script?: boolean } = {}): Ran => {
    const out = join(dir, `ctr-${n}.out`);
    const err = join(dir, `ctr-${n++}.err`);
    const fds = [openSync('/dev/null', 'r'), openSync(out, 'w'), openSync(err, 'w')];
    try {
      const argv = ['ctr', '--address', sock, ...args];
      // --tty needs a terminal on ctr's side: script(1) gives it one.
      const r = opts.script
        ? spawnSync('script', ['-qec', argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' '), '/dev/null'], { stdio: [fds[0]!, fds[1]!, fds[2]!], timeout: 120_000 })
        : spawnSync(argv[0]!, argv.slice(1), { stdio: [fds[0]!, fds[1]!, fds[2]!], timeout: 120_000 });
      if (r.error) throw r.error;
      return { code: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  };
  const runArgs = (): string[] => ['--runc-binary', RUNTIME.path, '--runc-root', runcRoot];

  /** Nothing of the container left: no task, no container, no cgroup, no mount, no runtime state. */
  const nothingLeft = (id: string): void => {
    expect(ctr(['task', 'ls', '-q']).stdout.split('\n')).to.not.include(id);
    expect(ctr(['containers', 'ls', '-q']).stdout.split('\n')).to.not.include(id);
    for (const h of readdirSync('/sys/fs/cgroup')) expect(existsSync(`/sys/fs/cgroup/${h}/default/${id}`), `cgroup ${h}/default/${id}`).to.equal(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).to.not.include(`/${id}/`);
    expect(existsSync(join(runcRoot, 'default', id)), 'the runtime\'s state').to.equal(false);
  };

  before(async function () {
    this.timeout(120_000);
    dir = tmp.make('containerd');
    sock = join(dir, 'c.sock');
    runcRoot = join(dir, 'runc-root');
    writeFileSync(join(dir, 'config.toml'), [
      'version = 2', `root = "${dir}/root"`, `state = "${dir}/state"`,
      // no CRI (it would want a CNI network); ctr needs none
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]', `  address = "${sock}"`, '[ttrpc]', `  address = "${sock}.ttrpc"`, '[debug]', '  address = ""', '[metrics]', '  address = ""', '',
    ].join('\n'));
    const log = openSync(join(dir, 'containerd.log'), 'w');
    containerd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
    closeSync(log);
    await until(() => existsSync(sock) && ctr(['version']).code === 0, 'containerd to answer on its socket');
    const layout = tmp.make('layout');
    await writeLayout(layout, { layers: [busyboxLayer()], tag: IMAGE, config: { Cmd: ['sh'] } });
    const tar = join(dir, 'image.tar');
    const t = spawnSync('tar', ['-C', layout, '-cf', tar, '.']);
    expect(t.status, t.stderr?.toString()).to.equal(0);
    const imported = ctr(['images', 'import', tar]);
    expect(imported.code, imported.stderr).to.equal(0);
  });

  after(async function () {
    this.timeout(60_000);
    for (const id of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await until(() => ctr(['task', 'delete', id]).code === 0 || !ctr(['task', 'ls', '-q']).stdout.includes(id), `task ${id} to go`);
    }
    for (const id of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['containers', 'rm', id]);
    ctr(['images', 'rm', IMAGE]);
    if (containerd?.pid !== undefined && containerd.exitCode === null) {
      const exited = new Promise((r) => containerd!.once('exit', r));
      process.kill(containerd.pid, 'SIGTERM');
      await exited;
    }
    // containerd's own snapshot mounts are gone with the containers; its root is the tests'.
    spawnSync('umount', ['-R', join(dir, 'root')], { stdio: 'ignore' });
    await stopServer(join(runcRoot, 'default'));
    tmp.removeAll();
  });

  it('ctr run --rm prints the program\'s output and exits with its status; nothing is left', () => {
    const r = ctr(['run', '--rm', ...runArgs(), IMAGE, 'ctr-exit', 'sh', '-c', 'echo ok; exit 3']);
    expect(r.stdout).to.equal('ok\n');
    expect(r.code, r.stderr).to.equal(3);
    nothingLeft('ctr-exit');
  });

  it('ctr run -d, then ctr task kill and ctr task delete', async () => {
    const id = 'ctr-detached';
    const r = ctr(['run', '-d', ...runArgs(), IMAGE, id, 'sleep', '1000']);
    expect(r.code, r.stderr).to.equal(0);
    expect(ctr(['task', 'ls']).stdout).to.match(new RegExp(`${id}\\s+\\d+\\s+RUNNING`));
    const pid = Number(/\s(\d+)\s/.exec(ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id))!)![1]);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).to.equal('sleep\x001000\x00');
    expect(ctr(['task', 'kill', '-s', 'SIGTERM', id]).code).to.equal(0);
    // PID 1 of its namespace ignores a SIGTERM it has no handler for; SIGKILL ends it.
    expect(ctr(['task', 'kill', '-s', 'SIGKILL', id]).code).to.equal(0);
    await until(() => /STOPPED/.test(ctr(['task', 'ls']).stdout), 'the task to stop');
    const deleted = ctr(['task', 'delete', id]);
    expect(deleted.code, deleted.stderr).to.equal(0);
    expect(ctr(['containers', 'rm', id]).code).to.equal(0);
    expect(existsSync(`/proc/${pid}`)).to.equal(false);
    nothingLeft(id);
  });

  it('ctr task exec: a process in the running task, its output and exit status', async () => {
    const id = 'ctr-exec';
    expect(ctr(['run', '-d', ...runArgs(), IMAGE, id, 'sleep', '1000']).code).to.equal(0);
    // in the task's pid namespace: its PID 1 is the task's sleep
    const r = ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo exec-ok beside $(cat /proc/1/cmdline | tr "\\0" " "); exit 4']);
    expect(r.stdout).to.equal('exec-ok beside sleep 1000\n');
    expect(r.code, r.stderr).to.equal(4);
    expect(ctr(['task', 'kill', '-s', 'SIGKILL', id]).code).to.equal(0);
    await until(() => /STOPPED/.test(ctr(['task', 'ls']).stdout), 'the task to stop');
    expect(ctr(['task', 'delete', id]).code).to.equal(0);
    expect(ctr(['containers', 'rm', id]).code).to.equal(0);
    nothingLeft(id);
  });

  it('ctr run --rm --tty: the console comes through the console socket', () => {
    const r = ctr(['run', '--rm', '--tty', ...runArgs(), IMAGE, 'ctr-tty', 'sh', '-c', 'test -t 0 && test -t 1 && echo is-a-tty; echo "name $(tty)"; exit 5'], { script: true });
    expect(r.stdout).to.include('is-a-tty');
    // a pty of the container's own devpts, as runc makes it (not a host pty seen as /dev/console)
    expect(r.stdout).to.match(/name \/dev\/pts\/0\r*\n/);
    expect(r.code, r.stderr).to.equal(5);
    nothingLeft('ctr-tty');
  });
});
