// Bad input and failed starts: each error names the field, or the operation with its path and
// errno, and leaves the host as it was — no mount, fd, process or directory behind.
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { SpecError } from '../../src/spec/container.js';
import { StartError, type StartFailure } from '../../src/workers/start.js';
import { close, openPty } from '../../src/sys/libc.js';
import { Harness, type StartOptions, useHarness } from '../support/harness.js';
import { assertHostUnchanged, snapshotHost } from '../support/leaks.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';

const OUT = ': the path leads out of the root (through a symlink or "..")';

describe('launch errors', () => {
  let h: Harness;
  let rootfs: string;
  let shared: string;

  useHarness((made) => ({ h, rootfs } = made));
  before(() => {
    mkdirSync(join(rootfs, 'data'));
    mkdirSync(join(rootfs, 'scratch'));
    symlinkSync('/etc', join(rootfs, 'evil'));
    symlinkSync('../../../../../../../../etc', join(rootfs, 'evil-relative'));
    symlinkSync('data/../../..', join(rootfs, 'evil-dotdot'));
    shared = h.tmp.make('shared');
  });

  /** Starts a container that must fail; returns its failure after checking the host is unchanged. */
  async function failure(spec: Record<string, unknown>, options: StartOptions = {}): Promise<StartFailure> {
    const before = snapshotHost([rootfs, shared, h.rootMount]);
    let caught: unknown;
    try {
      h.start({ name: 'bad', rootfs, command: ['/bin/true'], ...spec }, { console: { kind: 'null' }, ...options });
    } catch (err) {
      caught = err;
    }
    expect(caught, 'the start should fail').to.be.instanceOf(StartError);
    await assertHostUnchanged(before);
    return (caught as StartError).failure;
  }

  async function specError(spec: Record<string, unknown>): Promise<SpecError> {
    const before = snapshotHost([rootfs, shared, h.rootMount]);
    let caught: unknown;
    try {
      h.start({ name: 'bad', rootfs, command: ['/bin/true'], ...spec });
    } catch (err) {
      caught = err;
    }
    expect(caught, 'the spec should be refused').to.be.instanceOf(SpecError);
    await assertHostUnchanged(before);
    return caught as SpecError;
  }

  describe('refused before anything is created', () => {
    it('a rootfs that does not exist', async () => {
      expect(await failure({ rootfs: '/nonexistent/rootfs' })).to.deep.equal({
        message: 'rootfs `/nonexistent/rootfs`: ENOENT (stat)', field: 'rootfs', errno: 2, code: 'ENOENT', exitCode: 125,
      });
    });

    it('a rootfs that is not a directory', async () => {
      expect((await failure({ rootfs: join(rootfs, 'etc/passwd') })).message).to.equal(`rootfs \`${join(rootfs, 'etc/passwd')}\` is not a directory`);
    });

    it('a mount source that does not exist', async () => {
      expect(await failure({ mounts: [{ source: '/nonexistent/source', target: '/data' }] })).to.deep.equal({
        message: 'mounts[0].source `/nonexistent/source`: ENOENT (stat)', field: 'mounts[0].source', errno: 2, code: 'ENOENT', exitCode: 125,
      });
    });

    it('an invalid hostname', async () => {
      const e = await specError({ hostname: 'bad_host!' });
      expect(e.message).to.equal('hostname must be a valid hostname (letters, digits, "-" and ".", at most 64), got "bad_host!"');
      expect(e.field).to.equal('hostname');
    });

    it('argv with a NUL byte', async () => {
      const e = await specError({ command: ['/bin/echo', 'one\0two'] });
      expect(e.message).to.equal('command[1] must not contain NUL bytes');
      expect(e.field).to.equal('command[1]');
    });
  });

  describe('failed inside the launch, reported as operation + path + errno', () => {
    it('a command that does not exist: 127, naming the command', async () => {
      const f = await failure({ command: ['/bin/nope', 'arg'] });
      expect(f).to.deep.include({ op: 'execve', errno: 2, code: 'ENOENT', exitCode: 127, field: 'command' });
      expect(f.message).to.equal(`command \`/bin/nope\` not found: ENOENT (operation ${f.index} execve)`);
    });

    it('a bare command not found on PATH', async () => {
      const f = await failure({ command: ['nope'] });
      expect(f.message).to.equal(`command \`nope\` not found: ENOENT (operation ${f.index} execve)`);
      expect(f.exitCode).to.equal(127);
    });

    it('a command that is not executable: 126', async () => {
      const f = await failure({ command: ['/etc/passwd'] });
      expect(f).to.deep.include({ op: 'execve', code: 'EACCES', exitCode: 126 });
      expect(f.message).to.equal(`exec \`/etc/passwd\`: EACCES (operation ${f.index} execve)`);
    });

    for (const link of ['evil', 'evil-relative', 'evil-dotdot']) {
      it(`a mount target that is a symlink out of the rootfs (/${link})`, async () => {
        const f = await failure({ mounts: [{ source: shared, target: `/${link}` }] });
        expect(f).to.deep.include({ op: 'mount', errno: 18, code: 'EXDEV', exitCode: 125 });
        expect(f.message).to.equal(`mounts[0]: bind \`${shared}\` on \`/${link}\`: EXDEV (operation ${f.index} mount)${OUT}`);
      });
    }

    it('a mount target below a symlink out of the rootfs, and a tmpfs there', async () => {
      const f = await failure({ mounts: [{ source: shared, target: '/evil/ssh' }] });
      expect(f.message).to.equal(`mounts[0]: bind \`${shared}\` on \`/evil/ssh\`: EXDEV (operation ${f.index} mount)${OUT}`);
      const t = await failure({ mounts: [{ type: 'tmpfs', target: '/evil/ssh' }] });
      expect(t.message).to.equal(`mounts[0]: create \`/evil/ssh\` in the rootfs: EXDEV (operation ${t.index} mkdir)${OUT}`);
    });

    it('a mount target that cannot be made (a file in the way): the mount names why', async () => {
      // A missing target is made, as Docker makes it; below a file it cannot be, and nothing is left behind.
      const f = await failure({ mounts: [{ source: shared, target: '/data' }, { source: shared, target: '/etc/passwd/data' }] });
      expect(f.message).to.equal(`mounts[1]: bind \`${shared}\` on \`/etc/passwd/data\`: ENOTDIR (operation ${f.index} mount)`);
    });

    it('a rootfs whose /dev is a symlink to the host /dev', async () => {
      const evilRoot = buildBusyboxRootfs(h.tmp.make('evilroot'));
      rmSync(join(evilRoot, 'dev'), { recursive: true });
      symlinkSync('/dev', join(evilRoot, 'dev'));
      const f = await failure({ rootfs: evilRoot });
      expect(f.message).to.equal(`create \`/dev\` in the rootfs: ENOTDIR (operation ${f.index} mkdir)`);
    });

    it('a workdir that cannot be made (a file in the way)', async () => {
      const f = await failure({ workdir: '/etc/passwd/w' });
      expect(f.message).to.equal(`workdir: change to \`/etc/passwd/w\`: ENOTDIR (operation ${f.index} chdir)`);
    });
  });

  describe('failure injection at every operation', () => {
    const EIO = 5;

    async function injectEverywhere(spec: Record<string, unknown>, console: () => { options: StartOptions; done: () => void }): Promise<number> {
      // the plan's length, from one successful start
      const c0 = console();
      const ok = h.start({ name: 'inject', ...spec }, c0.options);
      const ops = ok.plan.ops;
      process.kill(ok.pid, 'SIGKILL');
      await ok.exited;
      c0.done();
      for (let k = 0; k < ops.length; k++) {
        const c = console();
        const before = snapshotHost([rootfs, shared, h.rootMount]);
        let caught: unknown;
        try {
          h.start({ name: 'inject', ...spec }, { ...c.options, failAt: { index: k, errno: EIO } });
        } catch (err) {
          caught = err;
        }
        expect(caught, `operation ${k} should fail`).to.be.instanceOf(StartError);
        // Each round has a pty of its own, whose number other processes' ptys may change.
        const pts = (s: string) => s.replace(/\/dev\/pts\/\d+/g, '/dev/pts/N');
        const f = (caught as StartError).failure;
        expect({ ...f, message: pts(f.message) }, `operation ${k}`).to.deep.equal({
          message: pts(`${ops[k]!.what} [injected failure]: EIO (operation ${k} fail)`), op: 'fail', index: k, errno: EIO, code: 'EIO', exitCode: 125,
        });
        await assertHostUnchanged(before);
        c.done();
      }
      return ops.length;
    }

    it('a busybox rootfs with a pty console and ro bind + tmpfs mounts: every operation k fails as k', async () => {
      const n = await injectEverywhere({
        rootfs, command: ['/bin/sleep', '1000'],
        mounts: [{ source: shared, target: '/data', readOnly: true }, { type: 'tmpfs', target: '/scratch' }],
      }, () => {
        const pty = openPty();
        return { options: { console: { kind: 'pty', slavePath: pty.slavePath } }, done: () => close(pty.master) };
      });
      expect(n).to.be.greaterThan(40);
    });

    it('the host rootfs with a null console: every operation k fails as k', async () => {
      const n = await injectEverywhere({ command: ['/bin/sleep', '1000'] }, () => ({ options: { console: { kind: 'null' } }, done: () => {} }));
      expect(n).to.be.greaterThan(30);
    });
  });
});
