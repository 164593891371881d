// podman drives skiff-oci through conmon as it drives runc: Debian's podman 4.3 with its own
// storage (vfs), run root and tmp dir, the cgroupfs manager, the file events backend, no
// network, and `--runtime` set to the runtime under test, with its default --root (podman's
// cleanup calls `delete --force` without the --runtime-flag options, so a root of our own would
// be missed there). That default root (/run/skiff-oci, as runc's is /run/runc) is the runtime's
// to keep, so the tests remove it themselves if they made it, and fail if anything is left in it.
// The image is the busybox OCI layout, loaded with podman load.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxLayer } from '../support/busybox-layer.js';
import { writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';
import { RUNTIME, stopServer } from './runtime.js';

const IMAGE = 'docker.io/library/skiff-oci-box:1';
const RUNTIME_ROOT = RUNTIME.name === 'runc' ? '/run/runc' : '/run/skiff-oci';

interface Ran { code: number; stdout: string; stderr: string }

describe(`podman with ${RUNTIME.name}`, function () {
  const tmp = new TempDirs();
  let dir = '';
  let n = 0;
  /** whether the runtime's default root was there before these tests (someone else's then: left as found) */
  let rootWasThere = true;

  const podman = (args: string[], opts: { script?: boolean } = {}): Ran => {
    const out = join(dir, `podman-${n}.out`);
    const err = join(dir, `podman-${n++}.err`);
    const fds = [openSync('/dev/null', 'r'), openSync(out, 'w'), openSync(err, 'w')];
    const argv = ['podman', '--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'vfs',
      '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', RUNTIME.path, ...args];
    try {
      const r = opts.script
        ? spawnSync('script', ['-qec', argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' '), '/dev/null'], { stdio: [fds[0]!, fds[1]!, fds[2]!], timeout: 120_000 })
        : spawnSync(argv[0]!, argv.slice(1), { stdio: [fds[0]!, fds[1]!, fds[2]!], timeout: 120_000 });
      if (r.error) throw r.error;
      return { code: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  };
  // This host's hard RLIMIT_NOFILE is below podman's default (1048576) and there is no
  // CAP_SYS_RESOURCE to raise it: runc fails the same way without these.
  const RUN = ['--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

  /** Nothing of the container left: podman knows none, no cgroup, no runtime state. */
  const nothingLeft = (id: string): void => {
    expect(podman(['ps', '-aq']).stdout.trim()).to.equal('');
    for (const h of readdirSync('/sys/fs/cgroup')) expect(existsSync(`/sys/fs/cgroup/${h}/libpod_parent/libpod-${id}`), `cgroup ${h}/libpod_parent/libpod-${id}`).to.equal(false);
    expect(existsSync(join(RUNTIME_ROOT, id)), 'the runtime\'s state').to.equal(false);
  };
  const idOf = (name: string): string => podman(['inspect', '--format', '{{.Id}}', name]).stdout.trim();

  before(async function () {
    this.timeout(120_000);
    rootWasThere = existsSync(RUNTIME_ROOT);
    dir = tmp.make('podman');
    const layout = tmp.make('layout');
    await writeLayout(layout, { layers: [busyboxLayer()], tag: IMAGE, config: { Cmd: ['sh'] } });
    const tar = join(dir, 'image.tar');
    expect(spawnSync('tar', ['-C', layout, '-cf', tar, '.']).status).to.equal(0);
    const loaded = podman(['load', '-i', tar]);
    expect(loaded.code, loaded.stderr).to.equal(0);
  });

  after(async function () {
    this.timeout(60_000);
    podman(['rm', '-af', '-t', '0']);
    podman(['rmi', '-af']);
    // vfs layers are plain directories; podman's run root may hold a shm mount per container
    spawnSync('umount', ['-R', join(dir, 'storage')], { stdio: 'ignore' });
    // skiff-oci's server for podman's --root (runc's default place, not the tests'): ended, and its directory removed
    if (RUNTIME.name === 'skiff-oci') {
      await stopServer(RUNTIME_ROOT);
      rmSync(join(RUNTIME_ROOT, 'skiff-oci:server'), { recursive: true, force: true });
    }
    tmp.removeAll();
    // The root the runtime made for podman's calls: removed (rmdir: only if empty), and nothing left.
    if (!rootWasThere && existsSync(RUNTIME_ROOT)) {
      const left = readdirSync(RUNTIME_ROOT);
      if (left.length === 0) rmdirSync(RUNTIME_ROOT);
      expect(left, `${RUNTIME_ROOT} left with entries`).to.deep.equal([]);
    }
  });

  it('podman run --rm prints the output and exits with the program\'s status', () => {
    const cid = join(dir, 'rm.cid');
    const r = podman(['run', '--rm', '--cidfile', cid, ...RUN, IMAGE, 'sh', '-c', 'echo hi from $(cat /proc/1/cmdline | tr "\\0" " "); exit 4']);
    expect(r.stdout).to.equal('hi from sh -c echo hi from $(cat /proc/1/cmdline | tr "\\0" " "); exit 4\n');
    expect(r.code, r.stderr).to.equal(4);
    nothingLeft(readFileSync(cid, 'utf8').trim());
  });

  it('podman run -d, then podman stop', () => {
    const run = podman(['run', '-d', '--name', 'pm-detached', ...RUN, IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
    expect(run.code, run.stderr).to.equal(0);
    expect(podman(['ps', '--format', '{{.Names}} {{.Status}}']).stdout).to.match(/^pm-detached Up/m);
    const stop = podman(['stop', '-t', '30', 'pm-detached']);
    expect(stop.code, stop.stderr).to.equal(0);
    // the trap ran: a clean exit, not the SIGKILL after the grace period
    expect(podman(['inspect', '--format', '{{.State.ExitCode}}', 'pm-detached']).stdout.trim()).to.equal('0');
    const id = idOf('pm-detached');
    expect(podman(['rm', 'pm-detached']).code).to.equal(0);
    nothingLeft(id);
  });

  it('podman exec into a running container', () => {
    expect(podman(['run', '-d', '--name', 'pm-exec', ...RUN, IMAGE, 'sleep', '1000']).code).to.equal(0);
    const r = podman(['exec', 'pm-exec', 'sh', '-c', 'echo exec-ok; exit 5']);
    expect(r.stdout).to.equal('exec-ok\n');
    expect(r.code, r.stderr).to.equal(5);
    const id = idOf('pm-exec');
    expect(podman(['rm', '-f', '-t', '0', 'pm-exec']).code).to.equal(0);
    nothingLeft(id);
  });

  it('podman run -t: the console comes through conmon\'s console socket', () => {
    const cid = join(dir, 'tty.cid');
    const r = podman(['run', '--rm', '-t', '--cidfile', cid, ...RUN, IMAGE, 'sh', '-c', 'test -t 0 && test -t 1 && echo is-a-tty; echo "name $(tty)"; exit 6'], { script: true });
    expect(r.stdout).to.include('is-a-tty');
    // a pty of the container's own devpts, as runc makes it
    expect(r.stdout).to.match(/name \/dev\/pts\/0\r*\n/);
    expect(r.code, r.stderr).to.equal(6);
    nothingLeft(readFileSync(cid, 'utf8').trim());
  });
});
