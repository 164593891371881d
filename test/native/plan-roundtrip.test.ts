// The plan encoding, kept honest: TypeScript encodes, launch.c's dry run decodes back to JSON,
// and the two must agree word for word. Malformed buffers are refused with the reason.
import { expect } from 'chai';
import { decodeEncodedPlan, nativeOpTable, nativePlanVersion, type DecodedPlan } from '../../src/native/launch.js';
import {
  CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, MKDIR_BEST_EFFORT, MKDIR_EXIST_OK, NONE, OpCode, PLAN_VERSION, PlanEncodeError, encodePlan, type Op, type Plan,
} from '../../src/native/plan-format.js';
import { validateSpec } from '../../src/spec/container.js';
import { buildPlan } from '../../src/workers/plan.js';

/**
 * What launch.c must decode for an operation: its seven argument words, strings where the
 * format has a string, written out here independently of the encoder.
 */
function expectedArgs(op: Op): (number | string | null)[] {
  const lo = (v: bigint): number => Number(v & 0xffffffffn);
  const hi = (v: bigint): number => Number(v >> 32n);
  let args: (number | string | null)[];
  switch (op.op) {
    case 'mount': args = [op.source, op.target, op.fstype, op.flags, op.data, op.resolve, op.sourceRegister ?? NONE]; break;
    case 'remount_ro': args = [op.target, op.resolve, op.extraFlags]; break;
    case 'mkdir': args = [op.path, op.mode, op.resolve, (op.existOk ? MKDIR_EXIST_OK : 0) | (op.bestEffort ? MKDIR_BEST_EFFORT : 0)]; break;
    case 'mknod': args = [op.path, op.mode, op.major, op.minor, op.resolve]; break;
    case 'symlink': args = [op.target, op.linkpath, op.resolve]; break;
    case 'open_root': args = [op.path]; break;
    case 'pivot_root': args = [op.path]; break;
    case 'sethostname': args = [op.hostname]; break;
    case 'loopback_up': case 'setsid': case 'set_no_new_privs': args = []; break;
    case 'open': args = [op.path, op.flags, op.register, op.mode ?? 0]; break;
    case 'set_ctty': args = [op.register]; break;
    case 'dup2': args = [op.register, op.fd]; break;
    case 'close_from': args = [op.fd]; break;
    case 'chdir': args = [op.path, op.resolve]; break;
    case 'setrlimit': args = [op.resource, lo(op.soft), hi(op.soft), lo(op.hard), hi(op.hard)]; break;
    case 'write_file': args = [op.path, op.data, op.resolve]; break;
    case 'umount2': args = [op.path, op.flags]; break;
    case 'fail': args = [op.errno]; break;
    case 'set_dumpable': args = [op.dumpable ? 1 : 0]; break;
    case 'drop_bounding': args = [lo(op.caps), hi(op.caps)]; break;
    case 'set_caps': args = [lo(op.effective), hi(op.effective), lo(op.permitted), hi(op.permitted), lo(op.inheritable), hi(op.inheritable)]; break;
    case 'check_char': args = [op.register, op.major, op.minor]; break;
    case 'mask': args = [op.path, op.resolve, op.flags, op.register, op.tmpfsFlags, op.tmpfsData]; break;
    case 'readonly': args = [op.path, op.resolve, op.flags]; break;
    case 'seccomp': args = [op.program.toString('hex'), op.program.length / 8, op.flags]; break;
    case 'netlink': args = [op.message.toString('hex'), op.message.length]; break;
    case 'host_netlink': args = [op.message.toString('hex'), op.message.length, op.pidOffset ?? NONE]; break;
    case 'join_cgroup': args = [op.path]; break;
    case 'setgroups': args = [op.gids.length, ...op.gids]; break;
    case 'setresgid': args = [op.gid]; break;
    case 'setresuid': args = [op.uid]; break;
    case 'setns': args = [op.fd, op.nstype]; break;
    case 'setns_pid': case 'chroot': args = [op.fd]; break;
    // The dry run shows a list argument as its first string.
    case 'overlay': args = [op.target, op.lowerdirs[0]!, op.lowerdirs.length, op.upperdir, op.workdir, op.attrs]; break;
    case 'wait_start': args = [op.fd]; break;
    case 'setns_path': args = [op.path, op.nstype]; break;
    case 'unshare': args = [op.flags]; break;
    case 'set_keepcaps': args = []; break;
    case 'dup_fd': args = [op.from, op.to]; break;
    case 'open_pty': args = [op.master, op.slave]; break;
    case 'send_fd': args = [op.socket, op.register]; break;
    case 'fchown': args = [op.register, op.uid, op.gid]; break;
    case 'setgroups_list': args = [op.gids.join(',')]; break;
    case 'setns_pid_path': args = [op.path]; break;
    case 'open_pty_at': args = [op.path, op.resolve, op.master, op.peer, op.rows, op.cols]; break;
    case 'send_fd_to': args = [op.path, op.register]; break;
  }
  while (args.length < 7) args.push(0);
  return args;
}

function expected(plan: Plan): DecodedPlan {
  return {
    version: PLAN_VERSION,
    cloneFlags: plan.cloneFlags,
    uidMap: plan.uidMap,
    gidMap: plan.gidMap,
    ops: plan.ops.map((op) => ({ op: op.op, args: expectedArgs(op) })),
    exec: plan.exec,
  };
}

function roundTrip(plan: Plan): void {
  expect(decodeEncodedPlan(encodePlan(plan))).to.deep.equal(expected(plan));
}

const minimal: Plan = { cloneFlags: 0, uidMap: null, gidMap: null, ops: [], exec: { paths: ['/bin/true'], argv: ['true'], envp: [] } };

/** One of every operation, with awkward values. */
const everyOp: Op[] = [
  { what: 'm', op: 'mount', source: 'src "quoted"', target: '/t', fstype: null, flags: 0xffffffff, data: null, resolve: 0x18, sourceRegister: 7 },
  { what: 'r', op: 'remount_ro', target: '/t', resolve: 0, extraFlags: 6 },
  { what: 'd', op: 'mkdir', path: '/dir with space', mode: 0o1777, resolve: 0x0a, existOk: true },
  { what: 'n', op: 'mknod', path: '/dev/null', mode: 0o20666, major: 1, minor: 3, resolve: 0x0c },
  { what: 's', op: 'symlink', target: 'pts/ptmx', linkpath: '/dev/ptmx', resolve: 0x0c },
  { what: 'o', op: 'open_root', path: '/root' },
  { what: 'p', op: 'pivot_root', path: '/root' },
  { what: 'h', op: 'sethostname', hostname: 'host' },
  { what: 'l', op: 'loopback_up' },
  { what: 'o', op: 'open', path: '/dev/pts/1', flags: 0o102, register: 3, mode: 0o640 },
  { what: 'o2', op: 'open', path: '/dev/null', flags: 2, register: 0 },
  { what: 's', op: 'setsid' },
  { what: 'c', op: 'set_ctty', register: 3 },
  { what: 'd', op: 'dup2', register: 3, fd: 2 },
  { what: 'c', op: 'close_from', fd: 3 },
  { what: 'c', op: 'chdir', path: '/', resolve: 0x12 },
  { what: 'n', op: 'set_no_new_privs' },
  { what: 'r', op: 'setrlimit', resource: 7, soft: 0xffffffffffffffffn, hard: (1n << 40n) + 5n },
  { what: 'r0', op: 'setrlimit', resource: 0, soft: 0n, hard: 0xfffffffen },
  { what: 'w', op: 'write_file', path: '/etc/hostname', data: 'line1\nline2\ttab\\ "q"\n', resolve: 0x10 },
  { what: 'u', op: 'umount2', path: '/old', flags: 2 },
  { what: 'f', op: 'fail', errno: 5 },
  { what: 'dd', op: 'set_dumpable', dumpable: false },
  { what: 'du', op: 'set_dumpable', dumpable: true },
  { what: 'b', op: 'drop_bounding', caps: 0x1ff5ffbda04n },
  { what: 'b64', op: 'drop_bounding', caps: 0xffffffffffffffffn },
  { what: 'c', op: 'set_caps', effective: 0xa00425fbn, permitted: (1n << 40n) | 1n, inheritable: 0n },
  { what: 'cc', op: 'check_char', register: 2, major: 1, minor: 3 },
  { what: 'mf', op: 'mask', path: '/proc/kcore', resolve: 0x0c, flags: 1, register: 2, tmpfsFlags: 0xf, tmpfsData: 'size=0,mode=555' },
  { what: 'md', op: 'mask', path: '/sys/firmware', resolve: 0x0c, flags: 3, register: 7, tmpfsFlags: 0, tmpfsData: '' },
  { what: 'ro', op: 'readonly', path: '/proc/sys', resolve: 0x0c, flags: 1 },
  { what: 'sc', op: 'seccomp', program: Buffer.from('0600000000007fff0000010000000000', 'hex'), flags: 4 },
  { what: 'nl', op: 'netlink', message: Buffer.from('14000000100005000100000000000000ffeeddcc', 'hex') },
  { what: 'hn', op: 'host_netlink', message: Buffer.from('14000000100005000100000000000000ffeeddcc', 'hex'), pidOffset: 16 },
  { what: 'hn0', op: 'host_netlink', message: Buffer.from('10000000100005000100000000000000', 'hex'), pidOffset: null },
  { what: 'cg', op: 'join_cgroup', path: '/sys/fs/cgroup/memory/skiff/web/cgroup.procs' },
  { what: 'groups', op: 'setgroups', gids: [1000, 4294967294] },
  { what: 'gid', op: 'setresgid', gid: 1000 },
  { what: 'uid', op: 'setresuid', uid: 1000 },
  { what: 'ns', op: 'setns', fd: 7, nstype: 0x7e020000 },
  { what: 'nspid', op: 'setns_pid', fd: 7 },
  { what: 'root', op: 'chroot', fd: 8 },
  { what: 'ov', op: 'overlay', target: '/run/skiff/root', lowerdirs: ['/l/top', '/l/mid', '/l/bottom'], upperdir: '/c/upper', workdir: '/c/work', attrs: 4 },
  { what: 'ws', op: 'wait_start', fd: 9 },
  { what: 'ns', op: 'setns_path', path: '/proc/1/ns/net', nstype: 0x40000000 },
  { what: 'un', op: 'unshare', flags: 0x02000000 },
  { what: 'kc', op: 'set_keepcaps' },
  { what: 'df', op: 'dup_fd', from: 17, to: 3 },
  { what: 'pty', op: 'open_pty', master: 5, slave: 6 },
  { what: 'sfd', op: 'send_fd', socket: 11, register: 5 },
  { what: 'chown', op: 'fchown', register: 6, uid: 1000, gid: 4294967294 },
  { what: 'gl', op: 'setgroups_list', gids: [0, 7, 4294967294] },
  { what: 'pp', op: 'setns_pid_path', path: '/proc/1/ns/pid' },
  { what: 'pt', op: 'open_pty_at', path: '/dev/pts/ptmx', resolve: 0x08, master: 1, peer: 0, rows: 24, cols: 80 },
  { what: 'sf', op: 'send_fd_to', path: '/run/console.sock', register: 1 },
];

describe('plan encoding ↔ launch.c dry run', () => {
  describe('round trips', () => {
    it('a minimal plan: no operations, empty environment', () => {
      roundTrip(minimal);
    });

    it('every operation, with quotes, control characters, 64-bit rlimits and registers', () => {
      const plan: Plan = { ...minimal, ops: everyOp };
      // every op kind of the enum is covered here
      expect([...new Set(everyOp.map((o) => o.op))].sort()).to.deep.equal(Object.keys(OpCode).filter((k) => Number.isNaN(Number(k))).sort());
      roundTrip(plan);
    });

    it('unicode and quoting in argv, env, hostname and paths', () => {
      roundTrip({
        cloneFlags: CLONE_NEWPID | CLONE_NEWNS,
        uidMap: null,
        gidMap: null,
        ops: [
          { what: 'h', op: 'sethostname', hostname: 'hôte-日本' },
          { what: 'c', op: 'chdir', path: '/srv/données/"x"\\y', resolve: 0 },
        ],
        exec: {
          paths: ['/bin/ünï', '/usr/bin/ünï'],
          argv: ['ünï', 'say "hi"', 'back\\slash', 'tab\there', 'nl\nhere', '\u0001\u001f', '🚀', ''],
          envp: ['GREETING=héllo "world"', 'EMPTY=', 'JSON={"a":[1,2]}'],
        },
      });
    });

    it('uid and gid maps, and strings shared between operations', () => {
      roundTrip({
        cloneFlags: CLONE_NEWUSER | CLONE_NEWPID,
        uidMap: '0 100000 65536\n',
        gidMap: '0 100000 65536\n',
        ops: [
          { what: 'a', op: 'chdir', path: '/same', resolve: 0 },
          { what: 'b', op: 'open_root', path: '/same' },
          { what: 'c', op: 'mkdir', path: '/same', mode: 0o755, resolve: 0, existOk: false },
        ],
        exec: { paths: ['/same'], argv: ['/same', '/same'], envp: ['A=/same'] },
      });
    });

    it('the plans buildPlan makes: host, DIR and image rootfs, every console kind', () => {
      const specs = [
        validateSpec({ name: 'h', command: ['sh', '-c', 'echo "$HOME"'], env: ['HOME=/root'] }),
        validateSpec({ name: 'd', command: ['/bin/ls'], rootfs: '/srv/busybox', hostname: 'box', workdir: '/tmp',
          mounts: [{ source: '/data', target: '/data', readOnly: true }, { type: 'tmpfs', target: '/scratch', size: 4096 }] }),
        validateSpec({ name: 'i', command: ['/bin/true'], image: '/images/busybox', network: 'host' }),
      ];
      for (const spec of specs) {
        for (const console of [{ kind: 'pty', slavePath: '/dev/pts/9' }, { kind: 'file', path: '/var/log/x.log' }, { kind: 'null' }] as const) {
          roundTrip(buildPlan(spec, { rootMount: '/run/skiff/root', layer: { upper: '/s/upper', work: '/s/work' }, console, lastCap: 40, hidden: [] }));
        }
      }
    });
  });

  describe('tables', () => {
    it('TypeScript OpCode and the C op table agree, code for code', () => {
      const ts = new Map(Object.entries(OpCode).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));
      expect([...nativeOpTable()].sort((a, b) => a[0] - b[0])).to.deep.equal([...ts].sort((a, b) => a[0] - b[0]));
    });

    it('the plan format versions agree', () => {
      expect(nativePlanVersion()).to.equal(PLAN_VERSION);
    });
  });

  describe('malformed buffers are refused with the reason', () => {
    it('a seccomp program whose hex does not match its instruction count, or is not hex', () => {
      const plan = (hex: string, count: number): Buffer => {
        const buf = encodePlan({ ...minimal, ops: [{ what: 's', op: 'seccomp', program: Buffer.alloc(8), flags: 0 }] });
        const at = buf.indexOf('0000000000000000', 64, 'latin1');
        buf.write(hex, at, 'latin1');
        buf.writeUInt32LE(count, 18 * 4);
        return buf;
      };
      expect(() => decodeEncodedPlan(plan('0000000000000000', 2))).to.throw(Error, 'plan does not decode: seccomp program does not match its instruction count');
      expect(() => decodeEncodedPlan(plan('00000000000000zz', 1))).to.throw(Error, 'plan does not decode: seccomp program is not hex');
      expect(() => decodeEncodedPlan(plan('0000000000000000', 0))).to.throw(Error, 'plan does not decode: seccomp program does not match its instruction count');
    });

    // header words: 0 magic, 1 version, 2 clone flags, 3 op count, 4 ops offset, 5 strings offset,
    // 6 strings length, 7 uid map, 8 gid map, 9-10 exec paths, 11-12 argv, 13-14 envp
    const good = (): Buffer => encodePlan({ ...minimal, ops: [{ what: 'c', op: 'chdir', path: '/x', resolve: 0 }], exec: { paths: ['/bin/true'], argv: ['true'], envp: ['A=1'] } });
    const refused = (buf: Buffer, reason: string): void => {
      expect(() => decodeEncodedPlan(buf)).to.throw(Error, `plan does not decode: ${reason}`);
    };
    const withWord = (i: number, v: number, buf = good()): Buffer => {
      buf.writeUInt32LE(v >>> 0, i * 4);
      return buf;
    };
    const opsOffset = 64;

    it('decodes the unmodified buffer', () => {
      expect(decodeEncodedPlan(good()).ops).to.deep.equal([{ op: 'chdir', args: ['/x', 0, 0, 0, 0, 0, 0] }]);
    });

    it('bad magic', () => refused(withWord(0, 0x12345678), 'bad magic'));
    it('unsupported version', () => refused(withWord(1, PLAN_VERSION + 1), 'unsupported plan version'));
    it('truncated header', () => refused(good().subarray(0, 63), 'truncated header'));
    it('empty buffer', () => refused(Buffer.alloc(0), 'truncated header'));
    it('truncated operations', () => refused(good().subarray(0, opsOffset + 20), 'operations out of bounds'));
    it('operation count past the end', () => refused(withWord(3, 2), 'operations out of bounds'));
    it('too many operations', () => refused(withWord(3, 5000), 'too many operations'));
    it('ops offset past the end', () => refused(withWord(4, 0xfffffff0), 'operations out of bounds'));
    it('string area past the end', () => refused(withWord(6, 10000), 'string area out of bounds or not NUL-terminated'));
    it('string area offset past the end', () => refused(withWord(5, 0xffffff00), 'string area out of bounds or not NUL-terminated'));
    it('string area not NUL-terminated', () => {
      const buf = good();
      buf[buf.length - 1] = 0x41;
      refused(buf, 'string area out of bounds or not NUL-terminated');
    });
    it('truncated string area', () => refused(good().subarray(0, good().length - 3), 'string area out of bounds or not NUL-terminated'));
    it('out-of-bounds string offset in an operation', () => refused(withWord(17, 9999), 'operation string out of bounds'));
    it('out-of-bounds uid map', () => refused(withWord(7, 9999), 'uid or gid map out of bounds'));
    it('out-of-bounds gid map', () => refused(withWord(8, 9999), 'uid or gid map out of bounds'));
    it('out-of-bounds argv', () => refused(withWord(11, 9999), 'exec lists out of bounds'));
    it('argv list running past the string area', () => refused(withWord(12, 50), 'exec lists out of bounds'));
    it('a list count beyond the limit', () => refused(withWord(14, 1 << 20), 'exec lists out of bounds'));
    it('empty argv', () => refused(withWord(12, 0), 'exec needs at least one path and one argument'));
    it('no exec path', () => refused(withWord(10, 0), 'exec needs at least one path and one argument'));
    it('unknown operation codes, with the code and its index', () => {
      refused(withWord(16, 99), 'unknown operation 99 at index 0');
      refused(withWord(16, 0), 'unknown operation 0 at index 0');
    });
    it('a register out of range', () => {
      const buf = encodePlan({ ...minimal, ops: [{ what: 'd', op: 'dup2', register: 0, fd: 1 }] });
      refused(withWord(17, 8, buf), 'register out of range');
      const check = encodePlan({ ...minimal, ops: [{ what: 'c', op: 'check_char', register: 2, major: 1, minor: 3 }] });
      refused(withWord(17, 8, check), 'register out of range');
      const mask = encodePlan({ ...minimal, ops: [{ what: 'm', op: 'mask', path: '/x', resolve: 0, flags: 0, register: 2, tmpfsFlags: 0, tmpfsData: '' }] });
      refused(withWord(20, 0xffffffff, mask), 'register out of range');
    });
  });

  describe('the encoder refuses what C could not represent', () => {
    const encode = (ops: Op[], exec = minimal.exec): (() => Buffer) => () => encodePlan({ ...minimal, ops, exec });
    it('NUL bytes in strings', () => {
      expect(encode([{ what: 'c', op: 'chdir', path: '/a\0b', resolve: 0 }])).to.throw(PlanEncodeError, 'launch plan: string contains a NUL byte: "/a\\u0000b"');
      expect(encode([], { paths: ['/bin/x'], argv: ['x', 'a\0'], envp: [] })).to.throw(PlanEncodeError, 'launch plan: string contains a NUL byte');
    });
    it('registers out of range and numbers that are not u32', () => {
      expect(encode([{ what: 'd', op: 'dup2', register: 8, fd: 1 }])).to.throw(PlanEncodeError, 'launch plan: register 8 out of range 0..7');
      expect(encode([{ what: 'c', op: 'close_from', fd: -1 }])).to.throw(PlanEncodeError, 'launch plan: fd is not a u32: -1');
      expect(encode([{ what: 'm', op: 'mkdir', path: '/x', mode: 1.5, resolve: 0, existOk: false }])).to.throw(PlanEncodeError, 'launch plan: mode is not a u32: 1.5');
    });
    it('capability masks outside 64 bits', () => {
      expect(encode([{ what: 'b', op: 'drop_bounding', caps: 1n << 64n }])).to.throw(PlanEncodeError, 'launch plan: capability mask 18446744073709551616 out of range');
      expect(encode([{ what: 'c', op: 'set_caps', effective: 0n, permitted: -1n, inheritable: 0n }])).to.throw(PlanEncodeError, 'launch plan: capability mask -1 out of range');
    });
    it('a seccomp program that is not whole instructions, or none, or too long', () => {
      const sc = (n: number): (() => Buffer) => encode([{ what: 's', op: 'seccomp', program: Buffer.alloc(n), flags: 0 }]);
      expect(sc(0)).to.throw(PlanEncodeError, 'launch plan: seccomp program of 0 bytes is not 1 to 4096 instructions of 8 bytes');
      expect(sc(12)).to.throw(PlanEncodeError, 'launch plan: seccomp program of 12 bytes is not 1 to 4096 instructions of 8 bytes');
      expect(sc(4097 * 8)).to.throw(PlanEncodeError, 'launch plan: seccomp program of 32776 bytes is not 1 to 4096 instructions of 8 bytes');
    });
    it('rlimits outside 64 bits', () => {
      expect(encode([{ what: 'r', op: 'setrlimit', resource: 7, soft: -1n, hard: 0n }])).to.throw(PlanEncodeError, 'launch plan: rlimit -1 out of range');
      expect(encode([{ what: 'r', op: 'setrlimit', resource: 7, soft: 0n, hard: 1n << 64n }])).to.throw(PlanEncodeError, 'launch plan: rlimit 18446744073709551616 out of range');
    });
    it('an exec without argv or paths', () => {
      expect(encode([], { paths: ['/x'], argv: [], envp: [] })).to.throw(PlanEncodeError, 'launch plan: exec needs at least one argument');
      expect(encode([], { paths: [], argv: ['x'], envp: [] })).to.throw(PlanEncodeError, 'launch plan: exec needs at least one path');
    });
    it('an operation it does not know', () => {
      expect(encode([{ what: 'x', op: 'bogus' } as unknown as Op])).to.throw(PlanEncodeError, 'launch plan: unknown operation');
    });
  });
});
