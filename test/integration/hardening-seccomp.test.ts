// The default seccomp filter inside a real container: TIOCSTI on the console is refused and
// nothing reaches the terminal; a user namespace, kexec, modules, bpf, keys, ptrace and
// personality tricks fail with EPERM; `seccomp: unconfined` loads no filter.
import { closeSync } from 'node:fs';
import { expect } from 'chai';
import { openPty } from '../../src/sys/libc.js';
import { Harness, readUntilEio } from '../support/harness.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';


/** Python on the host rootfs (read-only, as `--rootfs host` gives it): each raw syscall's result. */
const SYSCALLS = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for name, nr, args in [('kexec_load', 246, (0, 0, 0, 0)), ('kexec_file_load', 320, (0, 0, 0, '', 0)),
                       ('init_module', 175, (0, 0, '')), ('finit_module', 313, (0, '', 0)), ('delete_module', 176, ('x', 0)),
                       ('bpf', 321, (5, 0, 0)), ('perf_event_open', 298, (0, 0, -1, -1, 0)),
                       ('keyctl', 250, (0, 0, 0)), ('add_key', 248, (0, 0, 0, 0, 0)), ('request_key', 249, (0, 0, 0, 0)),
                       ('ptrace', 101, (16, 1, 0, 0)), ('personality', 135, (0x0040000,)),
                       ('unshare', 272, (0x10000000,)), ('mount', 165, (0, 0, 0, 0, 0)), ('reboot', 169, (0, 0, 0, 0)),
                       ('swapon', 167, (0, 0))]:
    ctypes.set_errno(0)
    r = libc.syscall(nr, *args)
    print(name, r, os.strerror(ctypes.get_errno()))
`;

describe('hardening: seccomp', function () {
  let h: Harness;
  let rootfs: string;

  before(() => {
    h = new Harness();
    rootfs = buildBusyboxRootfs(h.tmp.make('rootfs'));
  });
  after(() => h.close());

  it('TIOCSTI on the console fails with EPERM and nothing reaches the terminal', async () => {
    const pty = openPty();
    try {
      const script = 'import fcntl, termios\ntry:\n    fcntl.ioctl(0, termios.TIOCSTI, b"x")\n    print("injected")\n'
        + 'except OSError as e:\n    print(type(e).__name__, e.errno, e.strerror)\n';
      const s = h.start({ name: 'sti', command: ['python3', '-c', script] }, { console: { kind: 'pty', slavePath: pty.slavePath } });
      const [out, exit] = await Promise.all([readUntilEio(pty.master), s.exited]);
      expect(exit.exitCode).to.equal(0);
      expect(out).to.equal('PermissionError 1 Operation not permitted\r\n');
    } finally {
      closeSync(pty.master);
    }
  });

  it('kexec, modules, bpf, perf, keys, ptrace, personality, a user namespace, mount, reboot, swap: EPERM', async () => {
    const r = await h.run({ name: 'sys', command: ['python3', '-c', SYSCALLS] });
    expect(r.output).to.equal(['kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'bpf',
      'perf_event_open', 'keyctl', 'add_key', 'request_key', 'ptrace', 'personality', 'unshare', 'mount', 'reboot', 'swapon']
      .map((n) => `${n} -1 Operation not permitted\n`).join(''));
  });

  it('`unshare -U` fails with EPERM; unconfined, it succeeds (no capability guards a user namespace)', async () => {
    const sh = (extra: Record<string, unknown>) => h.run({ name: 'userns', rootfs, command: ['/bin/sh', '-c', '/bin/busybox unshare -U true; echo "rc=$?"'], ...extra });
    expect((await sh({})).output).to.equal('unshare: unshare(0x10000000): Operation not permitted\nrc=1\n');
    expect((await sh({ seccomp: 'unconfined' })).output).to.equal('rc=0\n');
  });

  it('the filter is on by default (Seccomp: 2), also without no_new_privs; unconfined has none', async () => {
    const status = async (extra: Record<string, unknown>): Promise<string> =>
      (await h.run({ name: 'st', rootfs, command: ['/bin/grep', '-E', '^(NoNewPrivs|Seccomp):', '/proc/self/status'], ...extra })).output;
    expect(await status({})).to.equal('NoNewPrivs:\t1\nSeccomp:\t2\n');
    expect(await status({ noNewPrivileges: false })).to.equal('NoNewPrivs:\t0\nSeccomp:\t2\n');
    expect(await status({ seccomp: 'unconfined' })).to.equal('NoNewPrivs:\t1\nSeccomp:\t0\n');
  });
});
