// The kernel's knobs inside a real container: masked /proc files read as the container's own
// /dev/null, masked directories are empty read-only tmpfs, /proc/sys and friends are read-only,
// /sys is read-only, and /dev holds exactly the documented devices.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { StartError, type StartFailure } from '../../src/workers/start.js';
import { until } from '../support/wait.js';
import { Harness, useHarness } from '../support/harness.js';
import { assertHostUnchanged, snapshotHost } from '../support/leaks.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';

const OUT = ': the path leads out of the root (through a symlink or "..")';

describe('hardening: filesystem', function () {
  let h: Harness;
  let rootfs: string;

  useHarness((made) => ({ h, rootfs } = made));

  const sh = async (script: string): Promise<string> => {
    const r = await h.run({ name: 'fs', rootfs, command: ['/bin/sh', '-c', script] });
    expect(r.exit, r.output).to.deep.equal({ exitCode: 0, signal: null, coreDumped: false });
    return r.output;
  };
  /** mountinfo lines as "root point options fstype", for the mounts on `point`. */
  const mountsOn = (mountinfo: string, point: string): string[] => mountinfo.trim().split('\n').map((l) => l.split(' '))
    .filter((f) => f[4] === point).map((f) => `${f[3]} ${f[4]} ${f[5]} ${f[f.indexOf('-') + 1]}`);

  it('masked files read nothing: each is a bind of the /dev tmpfs node `null`; a file this kernel lacks stays absent', async () => {
    const files = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/latency_stats', '/proc/timer_stats'];
    const out = await sh(`for f in ${files.join(' ')}; do if [ -e $f ]; then echo "$f $(cat $f | wc -c)"; else echo "$f absent"; fi; done; cat /proc/self/mountinfo`);
    const [report, mountinfo] = [out.split('\n').slice(0, files.length), out.split('\n').slice(files.length).join('\n')];
    expect(report).to.deep.equal(files.map((f) => `${f} ${existsSync(f) ? '0' : 'absent'}`));
    const present = files.filter((f) => existsSync(f));
    expect(present, 'the host has some of them').to.include('/proc/keys');
    for (const f of present) expect(mountsOn(mountinfo, f)).to.deep.equal([`/null ${f} rw,nosuid,relatime tmpfs`]);
    expect(mountsOn(mountinfo, '/dev')).to.deep.equal(['/ /dev rw,nosuid,relatime tmpfs']);
  });

  it('masked directories are empty read-only tmpfs', async () => {
    const dirs = ['/proc/acpi', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'].filter((d) => existsSync(d));
    expect(dirs).to.include('/sys/firmware');
    const out = await sh(`for d in ${dirs.join(' ')}; do echo "$d [$(ls -A $d)]"; done; cat /proc/self/mountinfo`);
    expect(out.split('\n').slice(0, dirs.length)).to.deep.equal(dirs.map((d) => `${d} []`));
    for (const d of dirs) expect(mountsOn(out, d)).to.deep.equal([`/ ${d} ro,nosuid,nodev,noexec,relatime tmpfs`]);
  });

  it('/proc/sys, /proc/sysrq-trigger and the other knobs are read-only; so is /sys', async () => {
    const out = await sh([
      'echo 1 > /proc/sys/kernel/ns_last_pid; echo "rc=$?"',
      'echo h > /proc/sysrq-trigger; echo "rc=$?"',
      'touch /sys/x; echo "rc=$?"',
      'cat /proc/self/mountinfo',
    ].join('\n'));
    const sysrq = existsSync('/proc/sysrq-trigger')
      ? "/bin/sh: can't create /proc/sysrq-trigger: Read-only file system"
      : "/bin/sh: can't create /proc/sysrq-trigger: nonexistent directory";
    expect(out.split('\n').slice(0, 6)).to.deep.equal([
      "/bin/sh: can't create /proc/sys/kernel/ns_last_pid: Read-only file system", 'rc=1',
      sysrq, 'rc=1',
      'touch: /sys/x: Read-only file system', 'rc=1',
    ]);
    for (const p of ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger', '/proc/asound'].filter((x) => existsSync(x))) {
      expect(mountsOn(out, p)).to.deep.equal([`${p.slice('/proc'.length)} ${p} ro,nosuid,nodev,noexec,relatime proc`]);
    }
    expect(mountsOn(out, '/sys')).to.deep.equal(['/ /sys ro,nosuid,nodev,noexec,relatime sysfs']);
  });

  it('/dev holds exactly the documented devices: no kmsg, no tty0, no vcs*', async () => {
    expect(await sh('ls /dev | tr "\\n" " "')).to.equal('fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ');
  });

  describe('mounts never reach the host', () => {
    let shared: string | null = null;
    after(() => {
      if (shared !== null) execFileSync('umount', [shared]);
    });

    it('a container with CAP_SYS_ADMIN mounts on its root and inside a bind of a host shared mount: the host sees neither', async () => {
      // A shared host mount bound into the container is where propagation would leak, if the
      // plan did not make every mount private first.
      shared = h.tmp.make('shared');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'skiff-test-shared', shared]);
      execFileSync('mount', ['--make-shared', shared]);
      mkdirSync(join(shared, 'sub'));
      const hostBefore = readFileSync('/proc/self/mountinfo', 'utf8');
      expect(hostBefore).to.match(/ shared:\d+ .*skiff-test-shared/);

      const s = h.start({
        name: 'mounter', rootfs, capabilities: { add: ['SYS_ADMIN'] }, seccomp: 'unconfined',
        mounts: [{ source: shared, target: '/tmp' }],
        command: ['/bin/sh', '-c', [
          'mount -t tmpfs skiff-inner-a /tmp/sub && echo mounted-a',
          'mkdir -p /root/m && mount -t tmpfs skiff-inner-b /root/m && echo mounted-b',
          'grep -c skiff-inner /proc/self/mountinfo',
          'exec sleep 1000', // killed below, once the host has been looked at
        ].join('; ')],
      });
      await until(() => readFileSync(s.outputPath, 'utf8').includes('\n2\n'), 'the container to mount', 15_000);
      expect(readFileSync(s.outputPath, 'utf8')).to.equal('mounted-a\nmounted-b\n2\n');
      // The container is still running with both mounts in place.
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).to.equal(hostBefore);
      expect(readdirSync(join(shared, 'sub'))).to.deep.equal([]);
      process.kill(s.pid, 'SIGKILL');
      await s.exited;
      execFileSync('umount', [shared]);
      shared = null;
    });
  });

  describe('paths the rootfs controls', () => {
    let evil: string;
    let host: string;

    before(() => {
      evil = buildBusyboxRootfs(h.tmp.make('evil'));
      host = h.tmp.make('source');
      symlinkSync('/etc', join(evil, 'tmp/x'));
      symlinkSync('../../etc', join(evil, 'tmp/y'));
      symlinkSync('/etc', join(evil, 'work'));
      symlinkSync('/proc/self/cwd', join(evil, 'fdlink'));
      writeFileSync(join(evil, 'etc/marker'), 'the rootfs\n');
    });

    /** The start must fail; the host (mounts, fds, children, the rootfs tree) is unchanged. */
    const refused = async (spec: Record<string, unknown>): Promise<StartFailure> => {
      const before = snapshotHost([evil, host, h.rootMount]);
      let caught: unknown;
      try {
        h.start({ name: 'evil', rootfs: evil, command: ['/bin/true'], ...spec }, { console: { kind: 'null' } });
      } catch (err) {
        caught = err;
      }
      expect(caught, 'the start should fail').to.be.instanceOf(StartError);
      await assertHostUnchanged(before);
      return (caught as StartError).failure;
    };

    it('a mount target under /tmp/x, a symlink to /etc (absolute or by ".."): refused, the host mount table unchanged', async () => {
      for (const link of ['x', 'y']) {
        const f = await refused({ mounts: [{ source: host, target: `/tmp/${link}/ssh` }] });
        expect(f.message).to.equal(`mounts[0]: bind \`${host}\` on \`/tmp/${link}/ssh\`: EXDEV (operation ${f.index} mount)${OUT}`);
        const t = await refused({ mounts: [{ type: 'tmpfs', target: `/tmp/${link}/ssh` }] });
        expect(t.message).to.equal(`mounts[0]: create \`/tmp/${link}/ssh\` in the rootfs: EXDEV (operation ${t.index} mkdir)${OUT}`);
      }
      expect(existsSync('/etc/ssh/skiff')).to.equal(false);
    });

    it('a rootfs whose /proc is a symlink: refused', async () => {
      const bad = buildBusyboxRootfs(h.tmp.make('badproc'));
      rmSync(join(bad, 'proc'), { recursive: true });
      symlinkSync('/proc', join(bad, 'proc'));
      const before = snapshotHost([bad, h.rootMount]);
      let caught: unknown;
      try {
        h.start({ name: 'badproc', rootfs: bad, command: ['/bin/true'] }, { console: { kind: 'null' } });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(StartError);
      expect((caught as StartError).failure.message).to.match(/^create `\/proc` in the rootfs: ENOTDIR \(operation \d+ mkdir\)$/);
      await assertHostUnchanged(before);
    });

    it('a workdir that is a symlink to /etc resolves inside the root, not on the host', async () => {
      const r = await h.run({ name: 'wd', rootfs: evil, workdir: '/work', command: ['/bin/sh', '-c', 'pwd -P; cat marker'] });
      expect(r.output).to.equal('/etc\nthe rootfs\n');
    });

    it('a workdir that is a symlink to a /proc magic link: refused with ELOOP', async () => {
      const f = await refused({ workdir: '/fdlink' });
      expect(f).to.deep.include({ op: 'chdir', code: 'ELOOP', exitCode: 125 });
      expect(f.message).to.equal(`workdir: change to \`/fdlink\`: ELOOP (operation ${f.index} chdir)`);
    });
  });
});
