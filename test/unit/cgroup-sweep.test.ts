// The global set-up's sweep of a killed run's test cgroups (test/support/cgroup-sweep.ts), on a
// fake v1 tree of plain directories (an entry that is a file stands for what makes the kernel
// refuse an rmdir): what it removes, and everything it must leave.
import { expect } from 'chai';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sweepStaleTestCgroups } from '../support/cgroup-sweep.js';
import { useTempDirs } from '../support/tmp.js';

describe('the sweep of a killed test run\'s cgroups', () => {
  const tmp = useTempDirs();
  const DEAD = 4_000_001;
  const LIVE = 4_000_002;
  const alive = (pid: number): boolean => pid === LIVE;

  /** A fake /sys/fs/cgroup with memory and pids hierarchies, each holding `dirs` (relative paths). */
  const tree = (dirs: string[]): string => {
    const root = tmp.make('cgroot');
    for (const h of ['memory', 'pids']) for (const d of dirs) mkdirSync(join(root, h, d), { recursive: true });
    return root;
  };
  const sweep = (root: string, opts: { cmdlines?: string[]; tmpDir?: string } = {}): string[] =>
    sweepStaleTestCgroups({ cgroupRoot: root, tmp: opts.tmpDir ?? tmp.make('tmpdir'), alive, cmdlines: () => opts.cmdlines ?? [] });

  it('a dead daemon\'s parent and its spares go, deepest first, in every hierarchy, though the killed run left its state dir', () => {
    const p = `skiff-test-skiff-test-daemon-${DEAD}-AbC123`;
    const tmpDir = tmp.make('tmpdir');
    mkdirSync(join(tmpDir, `skiff-test-daemon-${DEAD}-AbC123`));
    const root = tree([`${p}/.spare-m${DEAD}-0`, `${p}/.spare-m${DEAD}-1`, `${p}/fleet/.spare-p${DEAD}-0`]);
    const removed = sweep(root, { tmpDir });
    for (const h of ['memory', 'pids']) {
      expect(existsSync(join(root, h, p)), h).to.equal(false);
      expect(existsSync(join(root, h)), `${h} itself`).to.equal(true);
    }
    expect(removed).to.have.length(10);
    expect(removed.indexOf(join(root, 'memory', p, 'fleet'))).to.be.below(removed.indexOf(join(root, 'memory', p)));
  });

  it('a parent whose owner lives is left: a spare\'s pid, its command line, the test pid in its name, a state dir (a name without a pid)', () => {
    const tmpDir = tmp.make('tmpdir');
    mkdirSync(join(tmpDir, 'skiff-test-daemon-Live01'));
    const kept = [
      `skiff-test-skiff-test-daemon-${DEAD}-Spare1`,
      `skiff-test-skiff-test-daemon-${DEAD}-Named1`,
      `skiff-test-skiff-test-daemon-${LIVE}-Test01`,
      'skiff-test-skiff-test-daemon-Live01',
      `skiff-test-spares-${LIVE}`,
    ];
    const root = tree([`${kept[0]}/.spare-m${LIVE}-0`, ...kept.slice(1)]);
    expect(sweep(root, { tmpDir, cmdlines: [`node skiffd-main.js --cgroup-parent ${kept[1]}`] })).to.deep.equal([]);
    for (const d of kept) {
      expect(existsSync(join(root, 'memory', d)), d).to.equal(true);
    }
  });

  it('a cgroup that is not empty is left, and so are its parents; the empty ones beside it go', () => {
    const p = `skiff-test-skiff-test-daemon-${DEAD}-Busy01`;
    const root = tree([`${p}/busy`, `${p}/.spare-m${DEAD}-0`]);
    writeFileSync(join(root, 'memory', p, 'busy', 'cgroup.procs'), '123\n'); // rmdir refused, as the kernel refuses a cgroup with a process
    sweep(root);
    expect(existsSync(join(root, 'memory', p, 'busy'))).to.equal(true);
    expect(existsSync(join(root, 'memory', p, `.spare-m${DEAD}-0`))).to.equal(false);
    expect(existsSync(join(root, 'pids', p)), 'the other hierarchy\'s, empty').to.equal(false);
  });

  it('nothing but a top-level skiff-test-* directory is touched', () => {
    const root = tree(['skiff-bench-1/x', 'user.slice', 'docker/abc', 'skiff-oci-test', 'a/skiff-test-skiff-test-daemon-Deep01', 'skiff-test-']);
    expect(sweep(root)).to.deep.equal([]);
    for (const d of ['skiff-bench-1/x', 'user.slice', 'docker/abc', 'skiff-oci-test', 'a/skiff-test-skiff-test-daemon-Deep01', 'skiff-test-']) {
      expect(existsSync(join(root, 'memory', d)), d).to.equal(true);
    }
  });

  it('a v2 hierarchy (cgroup.controllers at the root) is swept at its root', () => {
    const root = tmp.make('cg2');
    writeFileSync(join(root, 'cgroup.controllers'), 'memory pids\n');
    mkdirSync(join(root, 'skiff-test-skiff-test-daemon-V2abcd'));
    expect(sweep(root)).to.deep.equal([join(root, 'skiff-test-skiff-test-daemon-V2abcd')]);
  });
});
