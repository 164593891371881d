// OCI runtime conformance, config.json's fields (runtime spec: "Configuration", "Linux
// Container Configuration"), each one the container reports back through /out. The same
// tests run against runc (SKIFF_OCI_RUNTIME=runc npm run test:oci); the few that only make
// sense for skiff-oci (a field it refuses) say so and are skipped for another runtime.
import { expect } from 'chai';
import { chmodSync, lchownSync, existsSync, lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { capabilityMask } from '../../src/spec/capabilities.js';
import { until } from '../support/wait.js';
import { IS_SKIFF, RUNTIME, Runtime, makeBundle, outFile, reap, useCgroupParentCleanup, useOciTempDirs, useSubreaper, type Bundle } from './runtime.js';

describe(`OCI config fields (${RUNTIME.name})`, function () {
  const tmp = useOciTempDirs();
  useSubreaper();
  useCgroupParentCleanup();
  let rt: Runtime;
  const ids = new Set<string>();
  let n = 0;

  before(() => {
    rt = new Runtime(tmp);
  });
  afterEach(() => {
    rt.cleanup(ids);
    ids.clear();
  });

  /** Creates, starts and waits for the container's exit; returns its id (deleted afterwards). */
  async function run(b: Bundle): Promise<string> {
    const id = `field-${process.pid}-${n++}`;
    ids.add(id);
    rt.ok(['create', '--bundle', b.dir, id]);
    const { pid } = rt.state(id);
    rt.ok(['start', id]);
    await until(() => rt.state(id).status === 'stopped', `container ${id} to exit`);
    reap(pid);
    rt.ok(['delete', id]);
    return id;
  }

  it('process.args, env and cwd (a cwd the rootfs lacks is made)', async () => {
    const b = makeBundle(tmp, 'echo "$GREETING" > /out/env; pwd > /out/cwd; echo "$0 $1" > /out/args');
    b.config.process.args = ['sh', '-c', 'echo "$GREETING" > /out/env; pwd > /out/cwd; echo "$0 $1" > /out/args', 'zero', 'one'];
    b.config.process.env = ['PATH=/bin', 'GREETING=hello "world"'];
    b.config.process.cwd = '/work/dir';
    b.write();
    await run(b);
    expect(outFile(b, 'env')).to.equal('hello "world"\n');
    expect(outFile(b, 'cwd')).to.equal('/work/dir\n');
    expect(outFile(b, 'args')).to.equal('zero one\n');
  });

  it('process.user: uid, gid and additionalGids', async () => {
    const b = makeBundle(tmp, 'id -u > /out/uid; id -g > /out/gid; id -G > /out/groups');
    chmodSync(b.out, 0o777);
    b.config.process.user = { uid: 1000, gid: 1001, additionalGids: [10, 20] };
    b.write();
    await run(b);
    expect(outFile(b, 'uid')).to.equal('1000\n');
    expect(outFile(b, 'gid')).to.equal('1001\n');
    expect(outFile(b, 'groups')!.trim().split(' ').sort()).to.deep.equal(['10', '1001', '20']);
  });

  it('process.user.additionalGids: more groups than one setgroups operation holds (32)', async () => {
    const b = makeBundle(tmp, 'id -G > /out/groups');
    chmodSync(b.out, 0o777);
    const gids = Array.from({ length: 32 }, (_, i) => 100 + i);
    b.config.process.user = { uid: 1000, gid: 1001, additionalGids: gids };
    b.write();
    await run(b);
    expect(outFile(b, 'groups')!.trim().split(' ').map(Number).sort((x, y) => x - y)).to.deep.equal([...gids, 1001]);
  });

  it('hostname, in a new uts namespace', async () => {
    const b = makeBundle(tmp, 'cat /proc/sys/kernel/hostname > /out/h');
    b.config.hostname = 'box-7';
    b.write();
    await run(b);
    expect(outFile(b, 'h')).to.equal('box-7\n');
  });

  it('mounts: a tmpfs with options, a read-only bind, a bound file', async () => {
    const b = makeBundle(tmp, 'touch /scratch/x && echo tmpfs-rw > /out/tmpfs; grep " /scratch " /proc/mounts > /out/scratch; touch /ro/x 2> /out/ro-err || echo refused > /out/ro; cat /etc/motd-bound > /out/file');
    const roDir = tmp.make('oci-ro');
    const file = join(tmp.make('oci-file'), 'motd');
    writeFileSync(file, 'bound file\n');
    b.config.mounts.push(
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m', 'mode=1777'] },
      { destination: '/ro', type: 'bind', source: roDir, options: ['rbind', 'ro'] },
      { destination: '/etc/motd-bound', type: 'bind', source: file, options: ['bind', 'ro'] },
    );
    b.write();
    await run(b);
    expect(outFile(b, 'tmpfs')).to.equal('tmpfs-rw\n');
    expect(outFile(b, 'scratch')).to.match(/^tmpfs \/scratch tmpfs rw,nosuid,nodev,.*size=1024k/);
    expect(outFile(b, 'ro')).to.equal('refused\n');
    expect(readdirSync(roDir)).to.deep.equal([]);
    expect(outFile(b, 'file')).to.equal('bound file\n');
  });

  it('linux.maskedPaths and linux.readonlyPaths', async () => {
    const b = makeBundle(tmp, 'wc -c < /proc/keys > /out/keys; ls /sys/firmware | wc -l > /out/firmware; echo x > /proc/sys/kernel/domainname 2>/dev/null && echo wrote > /out/sys || echo refused > /out/sys');
    b.write();
    await run(b);
    expect(outFile(b, 'keys')!.trim()).to.equal('0');
    expect(outFile(b, 'firmware')!.trim()).to.equal('0');
    expect(outFile(b, 'sys')).to.equal('refused\n');
  });

  it('root.readonly', async () => {
    const b = makeBundle(tmp, 'touch /new-file 2>/dev/null && echo wrote > /out/root || echo refused > /out/root');
    b.config.root = { path: 'rootfs', readonly: true };
    b.write();
    await run(b);
    expect(outFile(b, 'root')).to.equal('refused\n');
    expect(existsSync(join(b.dir, 'rootfs/new-file'))).to.equal(false);
  });

  it('process.rlimits, noNewPrivileges, capabilities and oomScoreAdj', async () => {
    const b = makeBundle(tmp, 'ulimit -n > /out/nofile; ulimit -Hn > /out/nofile-hard; grep -E "^(NoNewPrivs|CapEff|CapPrm|CapBnd|CapInh):" /proc/self/status > /out/status; cat /proc/self/oom_score_adj > /out/oom');
    b.config.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }];
    const caps = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'];
    b.config.process.capabilities = { bounding: [...caps, 'CAP_SYS_ADMIN'], effective: caps, permitted: caps };
    b.config.process.oomScoreAdj = 500;
    b.write();
    await run(b);
    expect(outFile(b, 'nofile')).to.equal('512\n');
    expect(outFile(b, 'nofile-hard')).to.equal('1024\n');
    const status = Object.fromEntries(outFile(b, 'status')!.trim().split('\n').map((l) => l.split(/:\s+/) as [string, string]));
    const hex = (names: string[]): string => capabilityMask(names.map((c) => ({ CAP_CHOWN: 0, CAP_KILL: 5, CAP_NET_RAW: 13, CAP_SYS_ADMIN: 21 })[c]!)).toString(16).padStart(16, '0');
    expect(status).to.deep.equal({ NoNewPrivs: '1', CapEff: hex(caps), CapPrm: hex(caps), CapBnd: hex([...caps, 'CAP_SYS_ADMIN']), CapInh: '0000000000000000' });
    expect(outFile(b, 'oom')).to.equal('500\n');
  });

  it('linux.sysctl, in the container\'s network namespace', async () => {
    const b = makeBundle(tmp, 'cat /proc/sys/net/ipv4/ip_forward > /out/fwd; cat /proc/sys/net/ipv4/ping_group_range > /out/ping');
    b.config.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'net.ipv4.ping_group_range': '0 0' };
    b.write();
    await run(b);
    expect(outFile(b, 'fwd')).to.equal('1\n');
    expect(outFile(b, 'ping')!.trim().split(/\s+/)).to.deep.equal(['0', '0']);
  });

  it('linux.seccomp: an OCI profile, its errnoRet returned to the program', async () => {
    const b = makeBundle(tmp, 'mkdir /tmp/d 2> /out/err; echo $? > /out/rc; echo alive > /out/alive');
    b.config.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    b.write();
    await run(b);
    expect(outFile(b, 'err')).to.include('Operation not permitted');
    expect(outFile(b, 'rc')).to.equal('1\n');
    expect(outFile(b, 'alive')).to.equal('alive\n');
  });

  it('linux.cgroupsPath and linux.resources: the limits are the container\'s cgroup\'s, which delete removes', async () => {
    const path = `/skiff-oci-test/res-${process.pid}`;
    const b = makeBundle(tmp, 'cat /proc/self/cgroup > /out/cgroup; echo ready > /out/ready; sleep 1000');
    b.config.linux.cgroupsPath = path;
    b.config.linux.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 100 }, cpu: { shares: 512 } };
    b.write();
    const id = `field-${process.pid}-${n++}`;
    ids.add(id);
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    await until(() => outFile(b, 'ready'), 'the container to start');
    expect(readFileSync(`/sys/fs/cgroup/memory${path}/memory.limit_in_bytes`, 'utf8').trim()).to.equal(String(64 * 1024 * 1024));
    expect(readFileSync(`/sys/fs/cgroup/pids${path}/pids.max`, 'utf8').trim()).to.equal('100');
    expect(readFileSync(`/sys/fs/cgroup/cpu${path}/cpu.shares`, 'utf8').trim()).to.equal('512');
    expect(readFileSync(`/sys/fs/cgroup/memory${path}/cgroup.procs`, 'utf8').trim().split('\n').map(Number)).to.include(rt.state(id).pid);
    const { pid } = rt.state(id);
    rt.ok(['delete', '--force', id]);
    reap(pid);
    expect(existsSync(`/sys/fs/cgroup/memory${path}`), 'the container\'s cgroup is removed').to.equal(false);
    for (const h of ['memory', 'pids', 'cpu']) if (existsSync(`/sys/fs/cgroup/${h}/skiff-oci-test`)) readdirSync(`/sys/fs/cgroup/${h}/skiff-oci-test`);
  });

  it('update --resources: new limits in the running container\'s cgroup', async () => {
    const path = `/skiff-oci-test/upd-${process.pid}`;
    const b = makeBundle(tmp, 'echo ready > /out/ready; sleep 1000');
    b.config.linux.cgroupsPath = path;
    b.config.linux.resources = { pids: { limit: 100 } };
    b.write();
    const id = `field-${process.pid}-${n++}`;
    ids.add(id);
    rt.ok(['create', '--bundle', b.dir, id]);
    rt.ok(['start', id]);
    await until(() => outFile(b, 'ready'), 'the container to start');
    const file = join(tmp.make('oci-update'), 'resources.json');
    writeFileSync(file, JSON.stringify({ pids: { limit: 50 }, memory: { limit: 32 * 1024 * 1024 } }));
    rt.ok(['update', '--resources', file, id]);
    expect(readFileSync(`/sys/fs/cgroup/pids${path}/pids.max`, 'utf8').trim()).to.equal('50');
    expect(readFileSync(`/sys/fs/cgroup/memory${path}/memory.limit_in_bytes`, 'utf8').trim()).to.equal(String(32 * 1024 * 1024));
  });

  it('hooks: prestart and poststop get the state on stdin', async () => {
    const b = makeBundle(tmp, 'true');
    const hooksOut = tmp.make('oci-hooks');
    b.config.hooks = {
      prestart: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${hooksOut}/prestart`] }],
      poststop: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${hooksOut}/poststop`] }],
    };
    b.write();
    const id = await run(b);
    const pre = JSON.parse(readFileSync(join(hooksOut, 'prestart'), 'utf8')) as { id: string; status: string; pid: number; bundle: string };
    expect(pre).to.include({ id, status: 'creating', bundle: b.dir });
    expect(pre.pid).to.be.above(0);
    expect(JSON.parse(readFileSync(join(hooksOut, 'poststop'), 'utf8'))).to.include({ id, status: 'stopped' });
  });

  it('a user namespace: linux.uidMappings and gidMappings', async () => {
    const b = makeBundle(tmp, 'cat /proc/self/uid_map > /out/uid_map; cat /proc/self/gid_map > /out/gid_map; id -u > /out/uid; touch /tmp/mine; stat -c %u /tmp/mine > /out/owner');
    const base = 200000;
    for (const p of walk(join(b.dir, 'rootfs'))) lchownSync(p, base, base);
    chmodSync(b.out, 0o777);
    chmodSync(b.dir, 0o755); // the mapped root must reach its rootfs
    b.config.linux.namespaces = [...(b.config.linux.namespaces as unknown[]), { type: 'user' }];
    b.config.linux.uidMappings = [{ containerID: 0, hostID: base, size: 65536 }];
    b.config.linux.gidMappings = [{ containerID: 0, hostID: base, size: 65536 }];
    b.write();
    await run(b);
    expect(outFile(b, 'uid_map')!.trim().split(/\s+/)).to.deep.equal(['0', String(base), '65536']);
    expect(outFile(b, 'gid_map')!.trim().split(/\s+/)).to.deep.equal(['0', String(base), '65536']);
    expect(outFile(b, 'uid')).to.equal('0\n');
    expect(outFile(b, 'owner')).to.equal('0\n');
    expect(lstatSync(join(b.dir, 'rootfs/tmp/mine')).uid, 'owned by the mapped uid on the host').to.equal(base);
  });

  it('--preserve-fds: the caller\'s fd 3 reaches the program', async () => {
    const b = makeBundle(tmp, 'cat <&3 > /out/fd3');
    const input = join(tmp.make('oci-fd'), 'in');
    writeFileSync(input, 'through fd 3\n');
    const id = `field-${process.pid}-${n++}`;
    ids.add(id);
    const r = rt.call(['create', '--bundle', b.dir, '--preserve-fds', '1', id], { extraFd: input });
    expect(r.code, r.stderr).to.equal(0);
    const { pid } = rt.state(id);
    rt.ok(['start', id]);
    await until(() => rt.state(id).status === 'stopped', 'the container to exit');
    reap(pid);
    expect(outFile(b, 'fd3')).to.equal('through fd 3\n');
  });

  describe('fields skiff-oci refuses, by name (runc has its own answers)', () => {
    before(function () {
      if (!IS_SKIFF) this.skip();
    });

    for (const [field, patch, message] of [
      ['process.apparmorProfile', (b: Bundle) => { b.config.process.apparmorProfile = 'docker-default'; }, 'config.json: process.apparmorProfile is not supported by skiff-oci (this host has no AppArmor)'],
      ['linux.intelRdt', (b: Bundle) => { b.config.linux.intelRdt = { closID: 'x' }; }, 'config.json: linux.intelRdt is not supported by skiff-oci (no Intel RDT support)'],
      ['linux.resources.blockIO', (b: Bundle) => { b.config.linux.resources = { blockIO: { weight: 10 } }; }, 'config.json: linux.resources.blockIO is not supported by skiff-oci (that controller is not managed)'],
      ['hooks.startContainer', (b: Bundle) => { b.config.hooks = { startContainer: [{ path: '/bin/true' }] }; }, 'config.json: hooks.startContainer is not supported by skiff-oci'],
      ['mounts[7].options', (b: Bundle) => { b.config.mounts.push({ destination: '/x', type: 'bind', source: '/tmp', options: ['rbind', 'idmap'] }); }, 'mounts[7].options[1]: mount option "idmap" is not supported by skiff-oci'],
      ['linux.cgroupsPath (systemd form)', (b: Bundle) => { b.config.linux.cgroupsPath = 'system.slice:skiff:x'; }, 'config.json: linux.cgroupsPath is systemd\'s slice:prefix:name form'],
    ] as const) {
      it(`${field}: exit status 1, the field named, nothing left`, () => {
        const b = makeBundle(tmp, 'true');
        patch(b);
        b.write();
        const id = `refused-${process.pid}-${n++}`;
        const r = rt.call(['create', '--bundle', b.dir, id]);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.include(message);
        expect(rt.call(['state', id]).stderr).to.include('container does not exist');
        expect(existsSync(join(rt.root, id))).to.equal(false);
      });
    }

    it('--systemd-cgroup is refused, naming it', () => {
      const r = rt.call(['--systemd-cgroup', 'state', 'x']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('--systemd-cgroup: skiff-oci has no systemd cgroup driver');
    });
  });
});

function* walk(dir: string): Generator<string> {
  yield dir;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}
