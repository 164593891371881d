// Privileges inside a real container: the capability sets the kernel reports, no_new_privs, and
// what the missing capabilities refuse (EPERM, with the tools' exact words).
import { expect } from 'chai';
import { requireDocker, useDaemon } from '../support/daemon.js';
import { Harness, useHarness } from '../support/harness.js';

/** Docker's default set without CAP_MKNOD, as /proc/self/status prints it. */
const DEFAULT_SET = '00000000a00425fb';
const NONE = '0000000000000000';

describe('hardening: privileges', function () {
  let h: Harness;
  let rootfs: string;

  useHarness((made) => ({ h, rootfs } = made));

  const sh = async (script: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const r = await h.run({ name: 'priv', rootfs, command: ['/bin/sh', '-c', script], ...extra });
    expect(r.exit, r.output).to.deep.equal({ exitCode: 0, signal: null, coreDumped: false });
    return r.output;
  };
  const status = (extra: Record<string, unknown> = {}): Promise<string> => sh('grep -E "^(Cap|NoNewPrivs)" /proc/self/status', extra);

  it('a default container has exactly the documented set in every set but the inheritable and ambient ones, and no_new_privs', async () => {
    expect(await status()).to.equal([
      `CapInh:\t${NONE}`, `CapPrm:\t${DEFAULT_SET}`, `CapEff:\t${DEFAULT_SET}`, `CapBnd:\t${DEFAULT_SET}`, `CapAmb:\t${NONE}`,
      'NoNewPrivs:\t1', '',
    ].join('\n'));
  });

  it('noNewPrivileges: false leaves no_new_privs off', async () => {
    expect(await status({ noNewPrivileges: false })).to.match(/\nNoNewPrivs:\t0\n$/);
  });

  it('drop ALL leaves no capability anywhere; add puts one back', async () => {
    expect(await status({ capabilities: { drop: ['ALL'] } })).to.equal([
      `CapInh:\t${NONE}`, `CapPrm:\t${NONE}`, `CapEff:\t${NONE}`, `CapBnd:\t${NONE}`, `CapAmb:\t${NONE}`, 'NoNewPrivs:\t1', '',
    ].join('\n'));
    const killOnly = '0000000000000020';
    expect(await status({ capabilities: { drop: ['all'], add: ['kill'] } })).to.include(`CapEff:\t${killOnly}\nCapBnd:\t${killOnly}\n`);
  });

  it('add and drop change the default set by name', async () => {
    // + SYS_ADMIN (bit 21), - CHOWN (bit 0), - NET_RAW (bit 13)
    expect(await status({ capabilities: { add: ['CAP_SYS_ADMIN'], drop: ['chown', 'NET_RAW'] } })).to.include('CapBnd:\t00000000a02405fa\n');
  });

  it('refuses what the default set does not cover with EPERM: mknod, mount, umount, reboot, sethostname', async () => {
    const out = await sh([
      '/bin/busybox mknod /tmp/sda b 8 0; echo "rc=$?"',
      '/bin/busybox mount -t tmpfs none /tmp; echo "rc=$?"',
      '/bin/busybox umount /proc; echo "rc=$?"',
      '/bin/busybox reboot -f; echo "rc=$?"',
      'hostname other; echo "rc=$?"',
    ].join('\n'));
    expect(out).to.equal([
      'mknod: /tmp/sda: Operation not permitted', 'rc=1',
      'mount: permission denied (are you root?)', 'rc=1',
      "umount: can't unmount /proc: Operation not permitted", 'rc=1',
      'reboot: (null): Operation not permitted', 'rc=1',
      'hostname: sethostname: Operation not permitted', 'rc=1',
      '',
    ].join('\n'));
  });

  it('keeps what the default set covers: chown, and mknod once MKNOD is added', async () => {
    expect(await sh('touch /tmp/f && chown 5:7 /tmp/f && stat -c "%u:%g" /tmp/f')).to.equal('5:7\n');
    expect(await sh('/bin/busybox mknod /tmp/null c 1 3 && stat -c "%F %t:%T" /tmp/null', { capabilities: { add: ['MKNOD'] } }))
      .to.equal('character special file 1:3\n');
  });

  it('bpf(2) fails with EPERM without CAP_BPF or CAP_SYS_ADMIN', async () => {
    const script = 'import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n'
      + 'r = libc.syscall(321, 5, 0, 0)\nprint(r, os.strerror(ctypes.get_errno()))\n';
    const r = await h.run({ name: 'priv', command: ['python3', '-c', script] });
    expect(r.output).to.equal('-1 Operation not permitted\n');
  });
});

describe('hardening: capabilities through skiffd (--cap-add / --cap-drop)', function () {
  this.timeout(60_000);
  const d = useDaemon();
  const KILL_ONLY = '0000000000000020';

  it('skiff run --cap-drop ALL --cap-add kill: the kernel reports exactly CAP_KILL; inspect shows it', async () => {
    const r = await d.cli(['run', '--name', 'caps', '--cap-drop', 'ALL', '--cap-add', 'kill', '--', '/bin/grep', '^Cap[EB]', '/proc/self/status']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`CapEff:\t${KILL_ONLY}\nCapBnd:\t${KILL_ONLY}\n`);
    const host = ((await d.api('GET', '/containers/caps/json')).body as { HostConfig: Record<string, unknown> }).HostConfig;
    expect(host).to.deep.include({ CapAdd: ['CAP_KILL'], CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] });
    await d.cli(['rm', 'caps']);
  });

  it('the docker CLI: --cap-add SYS_ADMIN shows in CapBnd; an unknown name is refused naming HostConfig.CapAdd', async function () {
    requireDocker();
    const ok = await d.docker(['run', '--rm', '--cap-add', 'SYS_ADMIN', 'host', '/bin/grep', '^CapBnd', '/proc/self/status']);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.equal('CapBnd:\t00000000a02425fb\n');
    const bad = await d.docker(['run', '--rm', '--cap-add', 'FLY', 'host', '/bin/true']);
    expect(bad.code).to.equal(125);
    // (the docker CLI sends names with the CAP_ prefix added)
    expect(bad.stderr.split('\n')[0]).to.equal('docker: Error response from daemon: HostConfig.CapAdd[0] is not a known capability (e.g. CAP_NET_ADMIN, NET_ADMIN or ALL), got "CAP_FLY"');
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
  });
});
