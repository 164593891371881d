// Real containers through the launcher's start path (startContainer), the test process as the
// child subreaper: what a container sees inside, and what the host sees outside.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { openPty } from '../../src/sys/libc.js';
import { below, mountOf, parseMountinfo } from '../../src/workers/host-mounts.js';
import { Harness, readUntilEio, useHarness } from '../support/harness.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';

/** The masked and read-only kernel paths (src/workers/plan.ts) this host has: each is a mount of its own inside. */
const KNOBS = ['/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug',
  '/proc/acpi', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger', '/proc/asound'].filter((p) => existsSync(p));

/** Where `path` lives as the kernel names it in mountinfo: the root of its mount, joined with the rest. */
function mountRootOf(path: string): string {
  const real = realpathSync(path);
  const m = mountOf(real, parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')))!;
  const rest = below(real, m.mountPoint)!;
  return m.root === '/' ? `/${rest}` : rest === '' ? m.root : `${m.root}/${rest}`;
}

describe('launch: inside a container', function () {
  let h: Harness;
  let rootfs: string;
  let shared: string;

  useHarness((made) => ({ h, rootfs } = made));
  before(() => {
    mkdirSync(join(rootfs, 'data'));
    mkdirSync(join(rootfs, 'rw'));
    writeFileSync(join(rootfs, 'etc/motd'), 'from the image\n');
    shared = h.tmp.make('shared');
    writeFileSync(join(shared, 'hello.txt'), 'from the host\n');
  });

  const sh = (script: string, extra: Record<string, unknown> = {}) =>
    h.run({ name: 'busy', rootfs, command: ['/bin/sh', '-c', script], ...extra });

  it('runs the init as PID 1: `echo $$` prints 1', async () => {
    const r = await sh('echo $$');
    expect(r.output).to.equal('1\n');
    expect(r.exit).to.deep.equal({ exitCode: 0, signal: null, coreDumped: false });
  });

  it('shows only its own processes in /proc and ps', async () => {
    const ls = await h.run({ name: 'busy', rootfs, command: ['/bin/ls', '/proc'] });
    expect(ls.output.split('\n').filter((e) => /^\d+$/.test(e))).to.deep.equal(['1']);
    // pids only: the background child may not have exec'd sleep yet when ps looks
    const ps = await sh('sleep 1000 & ps -o pid; kill $!');
    expect(ps.output.trim().split('\n').map((l) => l.trim())).to.deep.equal(['PID', '1', '2', '3']);
  });

  it('has its own hostname, and a default one from its name', async () => {
    expect((await sh('hostname', { hostname: 'box-1.example' })).output).to.equal('box-1.example\n');
    expect((await h.run({ name: 'my_app', rootfs, command: ['/bin/hostname'] })).output).to.equal('my-app\n');
  });

  it('sees the new root and no host mount point except the requested ones', async () => {
    const r = await h.run({ name: 'busy', rootfs, command: ['/bin/cat', '/proc/self/mountinfo'],
      mounts: [{ source: shared, target: '/data', readOnly: true }] });
    const inside = parseMountinfo(r.output);
    expect(inside.map((m) => m.mountPoint).sort()).to.deep.equal(['/', '/data', '/dev', '/dev/pts', '/dev/shm', '/proc', '/sys', ...KNOBS].sort());
    const root = inside.find((m) => m.mountPoint === '/')!;
    expect(root.root).to.equal(mountRootOf(rootfs));
    expect(inside.find((m) => m.mountPoint === '/data')!.root).to.equal(mountRootOf(shared));
    const hostPoints = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).map((m) => m.mountPoint).filter((p) => p !== '/');
    const leaked = inside.filter((m) => hostPoints.includes(m.mountPoint) && !['/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', ...KNOBS].includes(m.mountPoint));
    expect(leaked).to.deep.equal([]);
    // the ones sharing a name with the host's are the container's own instances
    expect(inside.find((m) => m.mountPoint === '/proc')!.fstype).to.equal('proc');
    expect(inside.find((m) => m.mountPoint === '/dev')!.fstype).to.equal('tmpfs');
    expect(inside.find((m) => m.mountPoint === '/sys')!.options.split(',')[0]).to.equal('ro');
  });

  it('on the host rootfs: a read-only / with private /tmp and /run, none of the host submounts', async () => {
    const r = await h.run({ name: 'hosted', command: ['/bin/cat', '/proc/self/mountinfo'] });
    const inside = parseMountinfo(r.output);
    expect(inside.map((m) => m.mountPoint).sort()).to.deep.equal(['/', '/dev', '/dev/pts', '/dev/shm', '/proc', '/run', '/sys', '/tmp', ...KNOBS].sort());
    expect(inside.find((m) => m.mountPoint === '/')!.options.split(',').slice(0, 3)).to.deep.equal(['ro', 'nosuid', 'nodev']);
    expect(inside.find((m) => m.mountPoint === '/tmp')!.fstype).to.equal('tmpfs');
  });

  it('makes a read-only bind mount read-only (EROFS) and a read-write one writable', async () => {
    const r = await sh('cat /data/hello.txt; touch /data/new; echo "touch=$?"; echo x > /rw/written; echo "write=$?"', {
      mounts: [{ source: shared, target: '/data', readOnly: true }, { source: shared, target: '/rw' }],
    });
    expect(r.output).to.equal('from the host\ntouch: /data/new: Read-only file system\ntouch=1\nwrite=0\n');
    expect(readFileSync(join(shared, 'written'), 'utf8')).to.equal('x\n');
    expect(existsSync(join(shared, 'new'))).to.equal(false);
  });

  it('binds a single file, and a tmpfs with its size', async () => {
    const r = await sh('cat /etc/motd; df -k /scratch | tail -n 1 | tr -s " " | cut -d " " -f 2', {
      mounts: [{ source: join(shared, 'hello.txt'), target: '/etc/motd', readOnly: true }, { type: 'tmpfs', target: '/scratch', size: 1048576 }],
    });
    expect(r.output).to.equal('from the host\n1024\n');
    expect(readFileSync(join(rootfs, 'etc/motd'), 'utf8')).to.equal('from the image\n');
  });

  it('gets exactly the env and workdir given', async () => {
    const env = await h.run({ name: 'busy', rootfs, command: ['/bin/env'], env: ['FOO=bar baz', 'EMPTY='] });
    expect(env.output).to.equal('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nFOO=bar baz\nEMPTY=\n');
    const wd = await h.run({ name: 'busy', rootfs, command: ['pwd'], workdir: '/tmp', env: ['PATH=/bin'] });
    expect(wd.output).to.equal('/tmp\n');
  });

  it('starts PID 1 with fds 0, 1, 2 only: `exec ls /proc/self/fd` lists 0 1 2 3', async () => {
    expect((await sh('exec ls /proc/self/fd')).output).to.equal('0\n1\n2\n3\n');
  });

  it('gets /dev with exact modes, and the caller\'s umask for the init', async () => {
    const r = await sh('umask; stat -c "%a %F %t:%T %n" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; stat -c "%a %n" /dev /dev/shm; readlink /dev/ptmx; readlink /dev/fd');
    expect(r.output).to.equal([
      process.umask().toString(8).padStart(4, '0'),
      '666 character special file 1:3 /dev/null',
      '666 character special file 1:5 /dev/zero',
      '666 character special file 1:7 /dev/full',
      '666 character special file 1:8 /dev/random',
      '666 character special file 1:9 /dev/urandom',
      '666 character special file 5:0 /dev/tty',
      '755 /dev',
      '1777 /dev/shm',
      'pts/ptmx',
      '/proc/self/fd',
      '',
    ].join('\n'));
  });

  it('starts the init with no signal blocked or ignored (Node ignores SIGPIPE; that must not leak in)', async () => {
    const r = await h.run({ name: 'busy', rootfs, command: ['/bin/grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status'] });
    expect(r.output).to.equal('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('has its own network namespace with only loopback, up', async () => {
    const r = await sh('ls /sys/class/net; cat /sys/class/net/lo/flags');
    expect(r.output).to.equal('lo\n0x9\n');
  });

  it('hands the exit code of the init to the caller: 0, 3, and 137 for SIGKILL', async () => {
    expect((await sh('exit 0')).exit.exitCode).to.equal(0);
    expect((await sh('exit 3')).exit).to.deep.equal({ exitCode: 3, signal: null, coreDumped: false });
    const s = h.start({ name: 'busy', rootfs, command: ['/bin/sleep', '1000'] });
    process.kill(s.pid, 'SIGKILL');
    expect(await s.exited).to.deep.equal({ exitCode: 137, signal: 9, coreDumped: false });
  });
});

describe('launch: seen from the host', () => {
  let h: Harness;
  let rootfs: string;

  useHarness((made) => ({ h, rootfs } = made));

  it('the init shows in ps under its own command line, our child, alone in its pid namespace', async () => {
    const s = h.start({ name: 'sleeper', rootfs, command: ['/bin/sleep', '1000'] });
    try {
      expect(execFileSync('ps', ['-o', 'args=', '-p', String(s.pid)], { encoding: 'utf8' }).trim()).to.equal('/bin/sleep 1000');
      const stat = readFileSync(`/proc/${s.pid}/stat`, 'utf8');
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), 'parent: the subreaper').to.equal(process.pid);
      const ns = readlinkSync(`/proc/${s.pid}/ns/pid`);
      expect(ns).not.to.equal(readlinkSync('/proc/self/ns/pid'));
      const members = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((p) => {
        try {
          return readlinkSync(`/proc/${p}/ns/pid`) === ns;
        } catch {
          return false; // exited meanwhile
        }
      });
      expect(members).to.deep.equal([String(s.pid)]);
      const status = readFileSync(`/proc/${s.pid}/status`, 'utf8');
      expect(/^NSpid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).to.deep.equal([String(s.pid), '1']);
    } finally {
      process.kill(s.pid, 'SIGKILL');
      await s.exited;
    }
  });

  it('an image rootfs is a copy-on-write overlay: writes land in the layer, never in the image', async () => {
    const image = buildBusyboxRootfs(h.tmp.make('image'));
    const layerDir = h.tmp.make('layer');
    const r = await h.run({ name: 'img', image, command: ['/bin/sh', '-c', 'echo written > /hello; rm /etc/group; cat /hello; ls /etc'] }, { layerDir });
    expect(r.output).to.equal('written\npasswd\n');
    expect(r.exit.exitCode).to.equal(0);
    expect(readFileSync(join(layerDir, 'upper/hello'), 'utf8')).to.equal('written\n');
    expect(existsSync(join(image, 'hello'))).to.equal(false);
    expect(readFileSync(join(image, 'etc/group'), 'utf8')).to.equal('root:x:0:\n');
    // the deletion is a whiteout in the upper layer
    expect(readdirSync(join(layerDir, 'upper/etc'))).to.deep.equal(['group']);
  });

  it('a pty console: /dev/console and fds 0-2 are the pty, output read from the master until EIO', async () => {
    const pty = openPty();
    try {
      const s = h.start({ name: 'tty', rootfs, command: ['/bin/sh', '-c',
        'echo "pid $$"; stat -L -c %t:%T /dev/console /proc/self/fd/0 /proc/self/fd/2; tty; echo via-console > /dev/console'] },
      { console: { kind: 'pty', slavePath: pty.slavePath } });
      const [out, exit] = await Promise.all([readUntilEio(pty.master), s.exited]);
      expect(exit.exitCode).to.equal(0);
      const lines = out.split('\r\n');
      const dev = lines[1]!;
      expect(dev).to.match(/^[0-9a-f]+:[0-9a-f]+$/);
      expect(lines).to.deep.equal(['pid 1', dev, dev, dev, '/dev/console', 'via-console', '']);
    } finally {
      closeSync(pty.master);
    }
  });
});
