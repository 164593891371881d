// buildPlan: spec → launch plan, without root. The order of operations is the contract
// (see the comment on buildPlan): private mounts first, host-side mounts while host paths
// are reachable, pivot_root before /proc, stray fds closed right before exec.
import { expect } from 'chai';
import {
  CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, MOUNT_ATTR_NODEV, MS_BIND, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_REC,
  RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, encodePlan, type Op, type Plan,
} from '../../src/native/plan-format.js';
import { DEFAULT_PATH, validateSpec } from '../../src/spec/container.js';
import { buildPlan, execCandidates, type LaunchConsole, type LaunchContext } from '../../src/workers/plan.js';
import { defaultSeccompFilter } from '../../src/workers/seccomp.js';
import { encodeFilter } from '../../src/workers/bpf.js';

const M = '/var/lib/skiff/root';
const IN_ROOT = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
const SYSTEM = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
const MASK_REG = 2;
const MASKS = ['open', 'check_char', 'mask', 'mask', 'mask', 'mask', 'mask', 'mask', 'mask', 'mask', 'mask', 'mask',
  'readonly', 'readonly', 'readonly', 'readonly', 'readonly', 'readonly'];

function plan(spec: Record<string, unknown>, ctx: Partial<LaunchContext> = {}): Plan {
  return buildPlan(validateSpec({ name: 'c1', command: ['/bin/true'], ...spec }), {
    rootMount: M,
    layer: null,
    console: { kind: 'file', path: '/var/log/c1.log' },
    lastCap: 40,
    hidden: [],
    ...ctx,
  });
}

const kinds = (p: Plan): string[] => p.ops.map((o) => o.op);
const indexOf = (p: Plan, pred: (o: Op) => boolean): number => p.ops.findIndex(pred);
const find = <K extends Op['op']>(p: Plan, kind: K, pred: (o: Extract<Op, { op: K }>) => boolean = () => true): Extract<Op, { op: K }>[] =>
  p.ops.filter((o): o is Extract<Op, { op: K }> => o.op === kind && pred(o as Extract<Op, { op: K }>));
const pivotAt = (p: Plan): number => indexOf(p, (o) => o.op === 'pivot_root');

/** Order invariants every plan must keep, whatever the rootfs. */
function checkOrder(p: Plan): void {
  expect(p.ops[0]).to.deep.include({ op: 'set_dumpable', dumpable: false });
  const first = p.ops[1]!;
  expect(first).to.include({ op: 'mount', target: '/', source: null, fstype: null, flags: MS_REC | MS_PRIVATE, resolve: 0 });
  // nothing before the private remount may mount anything
  const pivot = pivotAt(p);
  expect(pivot, 'pivot_root present').to.be.greaterThan(0);
  expect(p.ops[pivot]).to.deep.include({ op: 'pivot_root', path: M });
  expect(p.ops[pivot + 1]).to.deep.include({ op: 'open_root', path: '/' });
  const proc = indexOf(p, (o) => o.op === 'mount' && o.target === '/proc');
  const sys = indexOf(p, (o) => o.op === 'mount' && o.target === '/sys');
  expect(proc, '/proc after pivot_root').to.be.greaterThan(pivot);
  expect(sys, '/sys after pivot_root').to.be.greaterThan(pivot);
  // the new root is opened right after it is mounted, and every host-side mount comes after it
  const openRoot = indexOf(p, (o) => o.op === 'open_root');
  expect(p.ops[openRoot]).to.deep.include({ op: 'open_root', path: M });
  // close_from after every fd-producing op; then the privileges, dropped after every mount and
  // mknod and the hostname; chdir last, with the init's own capabilities
  const close = indexOf(p, (o) => o.op === 'close_from');
  expect(p.ops[close]).to.deep.include({ op: 'close_from', fd: 3 });
  const nnp = p.ops.some((o) => o.op === 'set_no_new_privs');
  const seccomp = p.ops.some((o) => o.op === 'seccomp');
  expect(p.ops.slice(close + 1).map((o) => o.op)).to.deep.equal(nnp
    ? ['drop_bounding', 'set_caps', 'set_no_new_privs', 'chdir', ...(seccomp ? ['seccomp'] : [])]
    : [...(seccomp ? ['seccomp'] : []), 'drop_bounding', 'set_caps', 'chdir']);
  const lastPrivileged = Math.max(...p.ops.map((o, i) => (['mount', 'remount_ro', 'mknod', 'sethostname', 'loopback_up'].includes(o.op) ? i : -1)));
  expect(lastPrivileged).to.be.lessThan(close);
  for (let i = close + 1; i < p.ops.length; i++) expect(['open', 'open_root', 'dup2']).not.to.include(p.ops[i]!.op);
  // setsid before the console becomes the controlling tty; dup2 onto 0, 1, 2
  const setsid = indexOf(p, (o) => o.op === 'setsid');
  expect(setsid).to.be.greaterThan(proc);
  expect(find(p, 'dup2').map((o) => o.fd)).to.deep.equal([0, 1, 2]);
  // the plan encodes (every value representable)
  expect(() => encodePlan(p)).not.to.throw();
}

describe('buildPlan', () => {
  describe('host rootfs', () => {
    const p = plan({});

    it('keeps the order: private, root, host-side mounts, /dev, pivot, /proc, /sys, hostname, stdio, close, chdir', () => {
      checkOrder(p);
      expect(kinds(p)).to.deep.equal([
        'set_dumpable', 'mount', 'mount', 'remount_ro', 'open_root', 'mount', 'mount', 'open',
        'mount', 'mknod', 'mknod', 'mknod', 'mknod', 'mknod', 'mknod', 'mkdir', 'mount', 'symlink', 'mkdir', 'mount',
        'symlink', 'symlink', 'symlink', 'symlink',
        'pivot_root', 'open_root', 'mount', 'mount', ...MASKS, 'sethostname', 'loopback_up',
        'setsid', 'open', 'dup2', 'dup2', 'dup2', 'close_from', 'drop_bounding', 'set_caps', 'set_no_new_privs', 'chdir', 'seccomp',
      ]);
    });

    it("binds the host's / without its submounts, read-only, nosuid, nodev", () => {
      expect(p.ops[2]).to.include({ op: 'mount', source: '/', target: M, flags: MS_BIND, resolve: 0 });
      expect(p.ops[3]).to.include({ op: 'remount_ro', target: M, extraFlags: MS_NOSUID | MS_NODEV });
    });

    it('gives private writable tmpfs on /tmp and /run, resolved without symlinks', () => {
      const tmpfs = find(p, 'mount', (o) => o.fstype === 'tmpfs' && (o.target === '/tmp' || o.target === '/run'));
      expect(tmpfs.map((o) => [o.target, o.resolve])).to.deep.equal([['/tmp', SYSTEM], ['/run', SYSTEM]]);
      expect(tmpfs.every((o) => tmpfs.indexOf(o) >= 0 && p.ops.indexOf(o) < pivotAt(p))).to.equal(true);
    });

    it('creates no directory in the read-only root', () => {
      expect(find(p, 'mkdir').map((o) => o.path)).to.deep.equal(['/dev/pts', '/dev/shm']);
    });
  });

  describe('DIR rootfs', () => {
    const p = plan({ rootfs: '/srv/rootfs' });

    it('binds the directory recursively and read-write, then makes its mount points', () => {
      checkOrder(p);
      expect(p.ops[2]).to.include({ op: 'mount', source: '/srv/rootfs', target: M, flags: MS_BIND | MS_REC, resolve: 0 });
      expect(find(p, 'remount_ro')).to.deep.equal([]);
      expect(find(p, 'mkdir').slice(0, 4).map((o) => [o.path, o.mode, o.resolve, o.existOk])).to.deep.equal([
        ['/proc', 0o755, SYSTEM, true], ['/dev', 0o755, SYSTEM, true], ['/sys', 0o755, SYSTEM, true], ['/tmp', 0o1777, SYSTEM, true],
      ]);
      expect(find(p, 'mount', (o) => o.target === '/tmp' || o.target === '/run')).to.deep.equal([]);
    });
  });

  describe('image rootfs', () => {
    it('mounts a copy-on-write overlay of the image with the layer as upper and work', () => {
      const p = plan({ image: '/images/busybox' }, { layer: { upper: '/state/c1/upper', work: '/state/c1/work' } });
      checkOrder(p);
      expect(p.ops[2]).to.include({
        op: 'mount', source: 'overlay', target: M, fstype: 'overlay', flags: 0, resolve: 0,
        data: 'lowerdir=/images/busybox,upperdir=/state/c1/upper,workdir=/state/c1/work',
      });
      expect(find(p, 'mkdir').slice(0, 4).map((o) => o.path)).to.deep.equal(['/proc', '/dev', '/sys', '/tmp']);
    });

    it('stacks a stored image\'s layers with mount(2) while its options fit a page, through the new mount API past it', () => {
      const id = `sha256:${'a'.repeat(64)}`;
      const dirs = (n: number) => Array.from({ length: n }, (_, i) => `/var/lib/skiff/.skiffd/images/layers/${String(n - i).padStart(64, '0')}`);
      const layer = { upper: '/state/c1/layer/upper', work: '/state/c1/layer/work' };
      const few = plan({ fromImage: { ref: 'bb', id, layers: dirs(30) } }, { layer });
      expect(few.ops[2]).to.include({ op: 'mount', fstype: 'overlay', flags: MS_NODEV, data: `lowerdir=${dirs(30).join(':')},upperdir=${layer.upper},workdir=${layer.work}` });
      const many = plan({ fromImage: { ref: 'bb', id, layers: dirs(40) } }, { layer });
      checkOrder(many);
      expect(many.ops[2]).to.deep.equal({ what: 'image: mount an overlay of the 40 layers of `bb`', op: 'overlay', target: M, lowerdirs: dirs(40), upperdir: layer.upper, workdir: layer.work, attrs: MOUNT_ATTR_NODEV });
    });

    it('refuses an image without a writable layer', () => {
      expect(() => plan({ image: '/images/busybox' })).to.throw('plan: an image needs a writable layer (upper and work directories)');
    });
  });

  describe('user mounts', () => {
    const p = plan({
      rootfs: '/srv/rootfs',
      mounts: [{ source: '/data', target: '/data', readOnly: true }, { type: 'tmpfs', target: '/scratch', size: 1048576 }, { source: '/etc/hosts', target: '/etc/hosts' }],
    });

    it('resolves every target beneath the root, refusing magic links', () => {
      const user = p.ops.filter((o) => o.what.startsWith('mounts['));
      expect(user.map((o) => [o.op, 'target' in o ? o.target : 'path' in o ? o.path : null, 'resolve' in o ? o.resolve : null])).to.deep.equal([
        ['mkdir', '/data', IN_ROOT],
        ['mount', '/data', IN_ROOT],
        ['remount_ro', '/data', IN_ROOT],
        ['mkdir', '/scratch', IN_ROOT],
        ['mount', '/scratch', IN_ROOT],
        ['mkdir', '/etc', IN_ROOT],
        ['mkdir', '/etc/hosts', IN_ROOT],
        ['mount', '/etc/hosts', IN_ROOT],
      ]);
    });

    it('makes each missing mount point as Docker does, best effort: the mount reports what stopped it', () => {
      const q = plan({ rootfs: '/srv/rootfs', mounts: [{ source: '/data', target: '/a/b/c' }, { type: 'tmpfs', target: '/t/u' }] });
      const points = find(q, 'mkdir', (o) => o.what.startsWith('mounts['));
      expect(points.map((o) => [o.path, o.existOk, o.bestEffort ?? false, o.what])).to.deep.equal([
        ['/a', true, true, 'mounts[0]: create the mount point `/a`'],
        ['/a/b', true, true, 'mounts[0]: create the mount point `/a/b`'],
        ['/a/b/c', true, true, 'mounts[0]: create the mount point `/a/b/c`'],
        ['/t', true, true, 'mounts[1]: create the mount point `/t`'],
        // a tmpfs's own target keeps its error (a symlink out of the root is refused there)
        ['/t/u', true, false, 'mounts[1]: create `/t/u` in the rootfs'],
      ]);
      expect(q.ops[q.ops.indexOf(points[2]!) + 1]).to.include({ op: 'mount', target: '/a/b/c' });
    });

    it('a file bind: only the parents of its mount point, never a directory where the file goes', () => {
      const q = plan({ rootfs: '/srv/rootfs', mounts: [{ source: '/etc/hostname', target: '/etc/name' }] }, { fileSources: new Set(['/etc/hostname']) });
      expect(find(q, 'mkdir', (o) => o.what.startsWith('mounts[')).map((o) => o.path)).to.deep.equal(['/etc']);
    });

    it('the host root: mount points best effort too (they can be made in its /tmp and /run tmpfs, nowhere else)', () => {
      const q = plan({ mounts: [{ source: '/data', target: '/tmp/in' }] });
      expect(find(q, 'mkdir', (o) => o.what.startsWith('mounts[')).map((o) => [o.path, o.bestEffort])).to.deep.equal([['/tmp', true], ['/tmp/in', true]]);
    });

    it('the workdir: made best effort once every mount is in place, resolved as chdir resolves it', () => {
      const q = plan({ rootfs: '/srv/rootfs', workdir: '/w/x' });
      const made = find(q, 'mkdir', (o) => o.what.startsWith('workdir'));
      expect(made.map((o) => [o.path, o.resolve, o.bestEffort])).to.deep.equal([['/w', RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, true], ['/w/x', RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, true]]);
      expect(q.ops.indexOf(made[0]!)).to.be.greaterThan(pivotAt(q));
      expect(q.ops.indexOf(made[1]!)).to.be.lessThan(indexOf(q, (o) => o.op === 'chdir'));
    });

    it('binds recursively, remounts read-only right after, and sizes the tmpfs', () => {
      const [bind, ro] = [find(p, 'mount', (o) => o.target === '/data')[0]!, find(p, 'remount_ro', (o) => o.target === '/data')[0]!];
      expect(bind).to.include({ source: '/data', flags: MS_BIND | MS_REC, fstype: null });
      expect(p.ops.indexOf(ro)).to.equal(p.ops.indexOf(bind) + 1);
      expect(find(p, 'mount', (o) => o.target === '/scratch')[0]).to.include({ source: 'tmpfs', fstype: 'tmpfs', data: 'mode=1777,size=1048576', flags: MS_NOSUID | MS_NODEV });
    });

    it('mounts them after the root and before pivot_root, while host sources are reachable', () => {
      const user = p.ops.map((o, i) => (o.what.startsWith('mounts[') ? i : -1)).filter((i) => i >= 0);
      const openRoot = indexOf(p, (o) => o.op === 'open_root');
      expect(Math.min(...user)).to.be.greaterThan(openRoot);
      expect(Math.max(...user)).to.be.lessThan(pivotAt(p));
    });

    it('quotes the field and paths in each description', () => {
      expect(find(p, 'mount', (o) => o.target === '/data')[0]!.what).to.equal('mounts[0]: bind `/data` on `/data`');
      expect(find(p, 'remount_ro')[0]!.what).to.equal('mounts[0]: make `/data` read-only');
    });
  });

  describe('system mounts', () => {
    it('resolves /proc, /dev, /sys and the devices without following any symlink', () => {
      const p = plan({ rootfs: '/srv/rootfs' });
      const underSystem = (path: string): boolean => /^\/(proc|dev|sys)(\/|$)/.test(path);
      const system = p.ops.filter((o) => o.op !== 'open'
        && (('target' in o && underSystem(o.target)) || ('path' in o && underSystem(o.path)) || 'linkpath' in o));
      expect(system.length).to.be.greaterThan(15);
      for (const o of system) expect(o, o.what).to.have.property('resolve', SYSTEM);
    });
  });

  describe('console', () => {
    const withConsole = (c: LaunchConsole): Plan => plan({ rootfs: '/srv/rootfs' }, { console: c });

    it('pty: opens the slave before pivot_root, binds it on /dev/console, makes it the controlling tty on 0, 1, 2', () => {
      const p = withConsole({ kind: 'pty', slavePath: '/dev/pts/7' });
      checkOrder(p);
      const open = indexOf(p, (o) => o.op === 'open');
      expect(p.ops[open]).to.include({ path: '/dev/pts/7', flags: 0o2 | 0o400, register: 0 });
      const bind = indexOf(p, (o) => o.op === 'mount' && o.target === '/dev/console');
      expect(p.ops[bind]).to.include({ source: null, flags: MS_BIND, sourceRegister: 0, resolve: SYSTEM });
      expect(p.ops[bind - 1]).to.include({ op: 'mknod', path: '/dev/console' });
      expect(open).to.be.lessThan(bind);
      expect(bind).to.be.lessThan(pivotAt(p));
      const setsid = indexOf(p, (o) => o.op === 'setsid');
      expect(p.ops.slice(setsid, setsid + 5).map((o) => o.op)).to.deep.equal(['setsid', 'set_ctty', 'dup2', 'dup2', 'dup2']);
      expect(find(p, 'dup2').every((o) => o.register === 0)).to.equal(true);
    });

    it('file: opens the file for appending (created 0644) before pivot_root; /dev/null on stdin', () => {
      const p = withConsole({ kind: 'file', path: '/var/log/c1.log' });
      const [out, nul] = find(p, 'open', (o) => o.register !== MASK_REG);
      expect(out).to.include({ path: '/var/log/c1.log', flags: 0o1 | 0o2000 | 0o100 | 0o400, mode: 0o644, register: 0 });
      expect(p.ops.indexOf(out!)).to.be.lessThan(pivotAt(p));
      expect(nul).to.include({ path: '/dev/null', register: 1 });
      expect(p.ops.indexOf(nul!)).to.be.greaterThan(pivotAt(p));
      expect(find(p, 'dup2').map((o) => [o.register, o.fd])).to.deep.equal([[1, 0], [0, 1], [0, 2]]);
      expect(find(p, 'mount', (o) => o.target === '/dev/console')).to.deep.equal([]);
    });

    it('pipes: each end opened by its /proc path before pivot_root (stdin read-only, the outputs write-only), dup2 onto 0, 1, 2, no /dev/console', () => {
      const p = withConsole({ kind: 'pipes', stdin: '/proc/9/fd/20', stdout: '/proc/9/fd/21', stderr: '/proc/9/fd/22' });
      checkOrder(p);
      const opens = find(p, 'open', (o) => o.register !== MASK_REG);
      expect(opens.map((o) => [o.path, o.flags, o.register])).to.deep.equal([['/proc/9/fd/20', 0, 4], ['/proc/9/fd/21', 0o1, 0], ['/proc/9/fd/22', 0o1, 3]]);
      for (const o of opens) expect(p.ops.indexOf(o)).to.be.lessThan(pivotAt(p));
      expect(find(p, 'dup2').map((o) => [o.register, o.fd])).to.deep.equal([[4, 0], [0, 1], [3, 2]]);
      expect(kinds(p)).not.to.include('set_ctty');
      expect(find(p, 'mount', (o) => o.target === '/dev/console')).to.deep.equal([]);
    });

    it('pipes without stdin: /dev/null on 0, opened inside the container', () => {
      const p = withConsole({ kind: 'pipes', stdin: null, stdout: '/proc/9/fd/21', stderr: '/proc/9/fd/22' });
      checkOrder(p);
      const nul = find(p, 'open', (o) => o.path === '/dev/null' && o.register === 1);
      expect(nul).to.have.length(1);
      expect(p.ops.indexOf(nul[0]!)).to.be.greaterThan(pivotAt(p));
      expect(find(p, 'dup2').map((o) => [o.register, o.fd])).to.deep.equal([[1, 0], [0, 1], [3, 2]]);
    });

    it('null: /dev/null on 0, 1, 2 and nothing opened on the host', () => {
      const p = withConsole({ kind: 'null' });
      expect(find(p, 'open', (o) => o.register !== MASK_REG).map((o) => o.path)).to.deep.equal(['/dev/null']);
      expect(find(p, 'dup2').map((o) => [o.register, o.fd])).to.deep.equal([[1, 0], [1, 1], [1, 2]]);
    });
  });

  describe('namespaces, hostname, workdir', () => {
    it('creates pid, mount, uts, ipc and net namespaces and brings up loopback for network none', () => {
      const p = plan({});
      expect(p.cloneFlags).to.equal(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET);
      expect(find(p, 'loopback_up')).to.have.length(1);
      expect([p.uidMap, p.gidMap]).to.deep.equal([null, null]);
    });

    it('shares the host network for network host', () => {
      const p = plan({ network: 'host' });
      expect(p.cloneFlags & CLONE_NEWNET).to.equal(0);
      expect(find(p, 'loopback_up')).to.deep.equal([]);
    });

    it('sets the hostname and the workdir', () => {
      const p = plan({ hostname: 'box.example', workdir: '/srv/app' });
      expect(find(p, 'sethostname')[0]).to.include({ hostname: 'box.example', what: 'set the hostname `box.example`' });
      expect(find(p, 'chdir')[0]).to.include({ path: '/srv/app', resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS });
    });

    it('is pure: the same spec gives the same plan', () => {
      expect(plan({ rootfs: '/srv/rootfs' })).to.deep.equal(plan({ rootfs: '/srv/rootfs' }));
    });
  });

  describe('masked and read-only paths', () => {
    const p = plan({});
    const sysAt = indexOf(p, (o) => o.op === 'mount' && o.target === '/sys');

    it("come right after /proc and /sys, from the container's own /dev/null opened without following links and checked to be char 1:3", () => {
      expect(p.ops.slice(sysAt + 1, sysAt + 3)).to.deep.equal([
        { what: 'open `/dev/null` as the mask source', op: 'open', path: '/dev/null', flags: 0o10000000 | 0o400000, register: MASK_REG },
        { what: 'check that `/dev/null` is the null device (char 1:3)', op: 'check_char', register: MASK_REG, major: 1, minor: 3 },
      ]);
      expect(p.ops.slice(sysAt + 1, sysAt + 1 + MASKS.length).map((o) => o.op)).to.deep.equal(MASKS);
    });

    it("masks Docker's files and directories, skipping those the kernel lacks, resolved without symlinks", () => {
      expect(find(p, 'mask').map((o) => [o.path, o.flags, o.resolve])).to.deep.equal([
        ['/proc/kcore', 1, SYSTEM], ['/proc/keys', 1, SYSTEM], ['/proc/latency_stats', 1, SYSTEM], ['/proc/timer_list', 1, SYSTEM],
        ['/proc/timer_stats', 1, SYSTEM], ['/proc/sched_debug', 1, SYSTEM],
        ['/proc/acpi', 3, SYSTEM], ['/proc/scsi', 3, SYSTEM], ['/sys/firmware', 3, SYSTEM], ['/sys/devices/virtual/powercap', 3, SYSTEM],
      ]);
      expect(find(p, 'mask').every((o) => o.register === MASK_REG && o.tmpfsData === 'size=0,mode=555' && o.tmpfsFlags === 0xf)).to.equal(true);
      expect(find(p, 'readonly').map((o) => [o.path, o.flags, o.resolve])).to.deep.equal([
        ['/proc/bus', 1, SYSTEM], ['/proc/fs', 1, SYSTEM], ['/proc/irq', 1, SYSTEM], ['/proc/sys', 1, SYSTEM],
        ['/proc/sysrq-trigger', 1, SYSTEM], ['/proc/asound', 1, SYSTEM],
      ]);
    });
  });

  describe('privileges', () => {
    const caps = (p: Plan): Extract<Op, { op: 'set_caps' }> => find(p, 'set_caps')[0]!;
    const bounding = (p: Plan): bigint => find(p, 'drop_bounding')[0]!.caps;
    const all40 = (1n << 41n) - 1n;

    it("keeps Docker's default set without MKNOD (0xa00425fb); drops every other capability up to cap_last_cap from the bounding set", () => {
      const p = plan({});
      expect(caps(p)).to.deep.include({ effective: 0xa00425fbn, permitted: 0xa00425fbn, inheritable: 0n });
      expect(bounding(p)).to.equal(all40 & ~0xa00425fbn);
      expect(bounding(plan({}, { lastCap: 37 }))).to.equal(((1n << 38n) - 1n) & ~0xa00425fbn);
    });

    it('adds and drops by name, with or without CAP_, any case; ALL drops everything', () => {
      expect(caps(plan({ capabilities: { add: ['net_admin', 'CAP_SYS_ADMIN'], drop: ['Chown', 'CAP_NET_RAW'] } })).effective)
        .to.equal((0xa00425fbn | (1n << 12n) | (1n << 21n)) & ~1n & ~(1n << 13n));
      const none = plan({ capabilities: { drop: ['ALL'] } });
      expect(caps(none)).to.deep.include({ effective: 0n, permitted: 0n, inheritable: 0n });
      expect(bounding(none)).to.equal(all40);
      expect(caps(plan({ capabilities: { drop: ['all'], add: ['KILL'] } })).effective).to.equal(1n << 5n);
      expect(caps(plan({ capabilities: { add: ['ALL'] } })).effective).to.equal(all40);
      expect(bounding(plan({ capabilities: { add: ['ALL'] } }))).to.equal(0n);
    });

    it('a capability the kernel does not know (above cap_last_cap) is left out, not passed to the kernel', () => {
      const p = plan({ capabilities: { add: ['CHECKPOINT_RESTORE'] } }, { lastCap: 39 });
      expect(caps(p).effective).to.equal(0xa00425fbn);
    });

    it('loads the default seccomp filter last; unconfined loads none', () => {
      const p = plan({});
      expect(p.ops[p.ops.length - 1]).to.deep.equal({ what: 'load the default seccomp filter', op: 'seccomp', program: encodeFilter(defaultSeccompFilter()), flags: 0 });
      const u = plan({ seccomp: 'unconfined' });
      checkOrder(u);
      expect(find(u, 'seccomp')).to.deep.equal([]);
    });

    it('without no_new_privs, loads the filter while CAP_SYS_ADMIN is still there: before the capabilities are dropped', () => {
      const p = plan({ noNewPrivileges: false });
      const close = indexOf(p, (o) => o.op === 'close_from');
      expect(p.ops.slice(close + 1).map((o) => o.op)).to.deep.equal(['seccomp', 'drop_bounding', 'set_caps', 'chdir']);
    });

    it('sets no_new_privs unless noNewPrivileges is false', () => {
      expect(find(plan({}), 'set_no_new_privs')).to.have.length(1);
      const p = plan({ noNewPrivileges: false });
      checkOrder(p);
      expect(find(p, 'set_no_new_privs')).to.deep.equal([]);
    });
  });

  describe('exec', () => {
    it('passes argv and env as given', () => {
      const p = plan({ command: ['/bin/sh', '-c', 'echo "$A"'], env: ['A=1'] });
      expect(p.exec.argv).to.deep.equal(['/bin/sh', '-c', 'echo "$A"']);
      expect(p.exec.envp).to.deep.equal([`PATH=${DEFAULT_PATH}`, 'A=1']);
      expect(p.exec.paths).to.deep.equal(['/bin/sh']);
    });

    it('searches the spec PATH for a bare command, in order', () => {
      const p = plan({ command: ['ls', '-l'], env: ['PATH=/opt/bin:/usr/bin/'] });
      expect(p.exec.paths).to.deep.equal(['/opt/bin/ls', '/usr/bin/ls']);
      expect(p.exec.argv[0]).to.equal('ls');
    });

    it('execCandidates: a path with a slash is used as is; empty PATH entries mean "."; no PATH means the default', () => {
      expect(execCandidates('/bin/ls', ['PATH=/x'])).to.deep.equal(['/bin/ls']);
      expect(execCandidates('sub/tool', ['PATH=/x'])).to.deep.equal(['sub/tool']);
      expect(execCandidates('ls', ['PATH=/a::/b'])).to.deep.equal(['/a/ls', './ls', '/b/ls']);
      expect(execCandidates('ls', [])).to.deep.equal(DEFAULT_PATH.split(':').map((d) => `${d}/ls`));
    });
  });
});
