// The kernel's knobs inside a real container: masked /proc files read as the container's own
// /dev/null, masked directories are empty read-only tmpfs, /proc/sys and friends are read-only,
// /sys is read-only, and /dev holds exactly the documented devices.
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { Harness } from '../support/harness.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';

describe('hardening: filesystem', function () {
  let h: Harness;
  let rootfs: string;

  before(() => {
    h = new Harness();
    rootfs = buildBusyboxRootfs(h.tmp.make('rootfs'));
  });
  after(() => h.close());

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
});
