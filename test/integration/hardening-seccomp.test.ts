// The default seccomp filter inside a real container: TIOCSTI on the console is refused and
// nothing reaches the terminal; a user namespace, kexec, modules, bpf, keys, ptrace and
// personality tricks fail with EPERM; `seccomp: unconfined` loads no filter. Then Docker-format
// profiles: a deny rule with its errno, Docker's default profile as an allow list that a shell
// runs under, argument-conditional rules (64-bit); through the skiff CLI, the docker CLI and a fleet.
import { closeSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseSeccompProfile } from '../../src/spec/seccomp-profile.js';
import { openPty } from '../../src/sys/libc.js';
import { requireDocker, useDaemon } from '../support/daemon.js';
import { Harness, readUntilEio, useHarness } from '../support/harness.js';
import { until } from '../support/wait.js';

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

const FIXTURE = fileURLToPath(new URL('../fixtures/seccomp-docker-default.json', import.meta.url));
const DENY_MKDIR = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] });
/** A spec's seccomp for a profile's text. */
const profile = (text: string, source: string) => ({ profile: parseSeccompProfile(text, source), source });

describe('hardening: seccomp', function () {
  let h: Harness;
  let rootfs: string;

  useHarness((made) => ({ h, rootfs } = made));

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

  describe('profiles (Docker format)', () => {
    it('a profile denying mkdir with EACCES: mkdir fails with "Permission denied", the rest works', async () => {
      const r = await h.run({ name: 'nomkdir', rootfs, seccomp: profile(DENY_MKDIR, '/p/deny-mkdir.json'),
        command: ['/bin/sh', '-c', 'mkdir /tmp/p1; echo "rc=$?"; touch /tmp/p1-file && echo touched; grep ^Seccomp: /proc/self/status'] });
      expect(r.output).to.equal("mkdir: can't create directory '/tmp/p1': Permission denied\nrc=1\ntouched\nSeccomp:\t2\n");
      expect(r.exit.exitCode).to.equal(0);
    });

    it("Docker's default profile (default action EPERM and an allow list): busybox sh runs; namespaces and mount are refused", async () => {
      const text = readFileSync(FIXTURE, 'utf8');
      const r = await h.run({ name: 'dockerdefault', rootfs, seccomp: profile(text, FIXTURE),
        command: ['/bin/sh', '-c', 'echo hello; ls /bin/busybox; mkdir /tmp/p2 && echo made; echo $((6 * 7)) | cat; '
          + '/bin/busybox unshare -U true; echo "unshare rc=$?"; grep ^Seccomp: /proc/self/status'] });
      expect(r.output).to.equal('hello\n/bin/busybox\nmade\n42\nunshare: unshare(0x10000000): Operation not permitted\nunshare rc=1\nSeccomp:\t2\n');
      expect(r.exit.exitCode).to.equal(0);
    });

    it("without no_new_privs the profile is loaded before the capabilities are dropped; Docker's lets that through", async () => {
      const r = await h.run({ name: 'nonnp', rootfs, noNewPrivileges: false, seccomp: profile(readFileSync(FIXTURE, 'utf8'), FIXTURE),
        command: ['/bin/grep', '-E', '^(NoNewPrivs|Seccomp|CapEff):', '/proc/self/status'] });
      expect(r.output).to.equal('CapEff:\t00000000a00425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n');
    });

    it('argument conditions: personality allows only the query (all 64 bits compared), socket(AF_INET) is EACCES, AF_UNIX works', async () => {
      const text = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_NE' }] },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
      ] });
      const script = [
        'import ctypes, os',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'for nr, arg in [(135, 0xffffffff), (135, 0x0040000), (135, (1 << 32) | 0xffffffff), (41, 2), (41, 1)]:',
        '    ctypes.set_errno(0)',
        '    r = libc.syscall(ctypes.c_long(nr), ctypes.c_ulong(arg), ctypes.c_long(1), ctypes.c_long(0))',
        '    print(nr, hex(arg), "ok" if r >= 0 else os.strerror(ctypes.get_errno()))',
      ].join('\n');
      const r = await h.run({ name: 'args', seccomp: profile(text, '/p/args.json'), command: ['python3', '-c', script] });
      expect(r.output).to.equal('135 0xffffffff ok\n135 0x40000 Operation not permitted\n135 0x1ffffffff Operation not permitted\n'
        + '41 0x2 Permission denied\n41 0x1 ok\n');
    });
  });
});

describe('hardening: seccomp profiles through the CLI, the docker CLI and a fleet', function () {
  this.timeout(60_000);
  const d = useDaemon();
  let dir: string;

  before(() => {
    dir = join(d.dir, 'profiles');
    mkdirSync(dir);
    writeFileSync(join(dir, 'deny-mkdir.json'), DENY_MKDIR);
    writeFileSync(join(dir, 'bad.json'), '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]\n}\n');
    writeFileSync(join(dir, 'broken.json'), '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [}\n');
  });
  it('skiff run --seccomp FILE: the profile applies; the spec keeps it with its path', async () => {
    const r = await d.cli(['run', '--name', 'cli-deny', '--seccomp', join(dir, 'deny-mkdir.json'), '--', '/bin/sh', '-c', 'mkdir /tmp/c1; echo "rc=$?"']);
    expect([r.stdout, r.stderr]).to.deep.equal(['rc=1\n', "mkdir: cannot create directory '/tmp/c1': Permission denied\n"]);
    expect(r.code).to.equal(0);
    // stored whole in the spec: a restart does not read the file again
    const state = JSON.parse(readFileSync(join(d.stateDir, 'cli-deny', 'state.json'), 'utf8')) as { spec: { seccomp: unknown } };
    expect(state.spec.seccomp).to.deep.equal(profile(DENY_MKDIR, join(dir, 'deny-mkdir.json')));
    const viaOpt = await d.cli(['run', '--rm', '--security-opt', `seccomp=${join(dir, 'deny-mkdir.json')}`, '--', '/bin/sh', '-c', 'mkdir /tmp/c2 2>/dev/null; echo "rc=$?"']);
    expect(viaOpt.stdout).to.equal('rc=1\n');
  });

  it('a bad profile: the exact error, exit code 125, and nothing created', async () => {
    const names = async (): Promise<string[]> => ((await d.api('GET', '/containers/json?all=1')).body as { Names: string[] }[]).map((c) => c.Names[0]!);
    const before = await names();
    const bad = await d.cli(['run', '--name', 'cli-bad', '--seccomp', join(dir, 'bad.json'), '--', '/bin/true']);
    expect([bad.code, bad.stdout, bad.stderr]).to.deep.equal([125, '', `skiff: seccomp profile ${dir}/bad.json: syscalls[0].action: unknown action "SCMP_ACT_FOO" (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)\n`]);
    const broken = await d.cli(['run', '--seccomp', join(dir, 'broken.json'), '--', '/bin/true']);
    expect([broken.code, broken.stderr]).to.deep.equal([125, `skiff: seccomp profile ${dir}/broken.json:3:16: invalid JSON: expected a value, got "}"\n`]);
    const missing = await d.cli(['run', '--seccomp', join(dir, 'missing.json'), '--', '/bin/true']);
    expect([missing.code, missing.stderr]).to.deep.equal([125, `skiff: seccomp profile ${dir}/missing.json: cannot read: ENOENT\n`]);
    const other = await d.cli(['run', '--security-opt', 'apparmor=unconfined', '--', '/bin/true']);
    expect([other.code, other.stderr]).to.deep.equal([125, 'skiff: HostConfig.SecurityOpt[0] "apparmor=unconfined" is not supported by skiff (seccomp=unconfined|builtin|<profile JSON> and no-new-privileges are)\n']);
    expect(await names()).to.deep.equal(before);
  });

  it('a profile too large for the kernel: the start fails with the compiler\'s message, exit 125, --rm leaves nothing', async () => {
    const rule = (n: string, i: number) => ({ names: [n], action: 'SCMP_ACT_ERRNO', args: [0, 1, 2].map((index) => ({ index, value: i + 1, op: 'SCMP_CMP_NE' })) });
    const { SYSCALLS_X86_64 } = await import('../../src/spec/syscalls-x86_64.js');
    writeFileSync(join(dir, 'huge.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: Object.keys(SYSCALLS_X86_64).slice(0, 320).map(rule) }));
    const r = await d.cli(['run', '--rm', '--name', 'cli-huge', '--seccomp', join(dir, 'huge.json'), '--', '/bin/true']);
    expect([r.code, r.stderr]).to.deep.equal([125, `skiff: launcher: seccomp profile ${dir}/huge.json: compiles to 5509 BPF instructions, `
      + 'more than the kernel\'s limit of 4096; fewer rules with args would fit\n']);
    // --rm of a container that never ran: skiffd removes it once the start has failed.
    await until(async () => !((await d.api('GET', '/containers/json?all=1')).body as { Names: string[] }[]).some((c) => c.Names[0] === '/cli-huge'),
      'the failed --rm container to be removed');
  });

  it('docker run --security-opt seccomp=FILE (the docker CLI sends the content) and seccomp=unconfined', async function () {
    requireDocker();
    const r = await d.docker(['run', '--rm', '--security-opt', `seccomp=${join(dir, 'deny-mkdir.json')}`, 'host', '/bin/sh', '-c', 'mkdir /tmp/d1; echo "rc=$?"']);
    // without a TTY, stderr comes apart from stdout, as from Docker
    expect([r.stdout, r.stderr]).to.deep.equal(['rc=1\n', "mkdir: cannot create directory '/tmp/d1': Permission denied\n"]);
    expect(r.code).to.equal(0);
    const u = await d.docker(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'host', '/bin/grep', '^Seccomp:', '/proc/self/status']);
    expect([u.code, u.stdout]).to.deep.equal([0, 'Seccomp:\t0\n']);
    const bad = await d.docker(['run', '--rm', '--security-opt', `seccomp=${join(dir, 'bad.json')}`, 'host', '/bin/true']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.contain('seccomp profile HostConfig.SecurityOpt[0]: syscalls[0].action: unknown action "SCMP_ACT_FOO"');
  });

  it('a fleet with security_opt: seccomp=FILE relative to the fleet file', async () => {
    writeFileSync(join(dir, 'sec.yaml'), ['name: sec', 'services:', '  job:', '    image: host', '    security_opt: ["seccomp=./deny-mkdir.json"]',
      '    command: [/bin/sh, -c, "mkdir /tmp/f1 2>/dev/null; exit $?"]', '    x-skiff: { job: true }', ''].join('\n'));
    const up = await d.cli(['fleet', 'up', join(dir, 'sec.yaml'), '--wait']);
    expect(up.code, up.stderr).to.equal(1); // the job exits 1: mkdir was refused
    const info = await d.api('GET', '/containers/sec-job-1/json');
    expect((info.body as { State: { ExitCode: number } }).State.ExitCode).to.equal(1);
    writeFileSync(join(dir, 'sec.yaml'), ['name: sec', 'services:', '  job:', '    image: host', '    security_opt: ["seccomp=./nope.json"]',
      '    command: [/bin/true]', ''].join('\n'));
    const bad = await d.cli(['fleet', 'up', join(dir, 'sec.yaml')]);
    expect([bad.code, bad.stderr]).to.deep.equal([2, `skiff: ${dir}/sec.yaml:5:20 services.job.security_opt[0]: seccomp profile ${dir}/nope.json: cannot read: ENOENT\n`]);
  });
});
