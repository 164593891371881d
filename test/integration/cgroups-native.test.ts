// launch.c's skiff_cg_keep through src/main/cgroups/native.ts: an exited container's cgroup is
// kept as a spare in one call only if nothing runs in it (and, for a v1 memory cgroup, only if
// it holds little, with its peak and fail count reset). Real v1 hierarchies of this host, in a
// parent of the test's own, removed at the end.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { detectLayout } from '../../src/main/cgroups/layout.js';
import { cgKeep, KEEP } from '../../src/main/cgroups/native.js';

const layout = detectLayout();
const mountOf = (controller: string): string | undefined => layout.v1.find((h) => h.controllers.includes(controller))?.mount;

describe('cgroups: a spare kept in one native call (skiff_cg_keep)', function () {
  this.timeout(20_000);
  const made: string[] = [];
  const shm = `/dev/shm/skiff-cgkeep-${process.pid}`;
  const dir = (controller: string, name: string): string => {
    const root = mountOf(controller)!;
    const parent = `${root}/skiff-cgkeep-${process.pid}`;
    if (!existsSync(parent)) {
      mkdirSync(parent);
      made.push(parent);
    }
    mkdirSync(`${parent}/${name}`);
    return `${parent}/${name}`;
  };
  before(function () {
    if (layout.version !== 1 || !mountOf('pids') || !mountOf('memory')) this.skip();
  });
  after(() => {
    rmSync(shm, { force: true });
    for (const parent of made) {
      for (const name of ['c', 'spare', 'm', 'mspare']) if (existsSync(`${parent}/${name}`)) rmdirSync(`${parent}/${name}`);
      rmdirSync(parent);
    }
  });

  it('not while a process is in it; renamed once it is empty', async () => {
    const c = dir('pids', 'c');
    const spare = c.replace(/c$/, 'spare');
    const child = spawn('sh', ['-c', `echo $$ > ${c}/cgroup.procs && exec sleep 1000`], { stdio: 'ignore' });
    try {
      // in the cgroup once its cgroup.procs lists it
      for (let i = 0; readFileSync(`${c}/cgroup.procs`, 'utf8').trim() === '' && i < 1000; i++) await new Promise((r) => setImmediate(r));
      expect(cgKeep(c, spare, null)).to.equal(KEEP.notEmpty);
      expect([existsSync(c), existsSync(spare)]).to.deep.equal([true, false]);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    expect(cgKeep(c, spare, null)).to.equal(KEEP.renamed);
    expect([existsSync(c), existsSync(spare)]).to.deep.equal([false, true]);
  });

  it('a memory cgroup: not if it holds more than asked; else its peak reset, then renamed', () => {
    const m = dir('memory', 'm');
    const spare = m.replace(/m$/, 'mspare');
    // 256 KiB of tmpfs charged to it by a process that then exits: the page cache stays charged.
    const r = spawnSync('sh', ['-c', `echo $$ > ${m}/cgroup.procs && head -c 262144 /dev/urandom > ${shm}`]);
    expect(r.status, r.stderr.toString()).to.equal(0);
    const usage = Number(readFileSync(`${m}/memory.usage_in_bytes`, 'utf8'));
    expect(usage).to.be.at.least(256 << 10);
    expect(cgKeep(m, spare, { maxUsage: 128 << 10, leftover: 1 << 20 })).to.equal(KEEP.tooMuch);
    expect(existsSync(spare)).to.equal(false);
    rmSync(shm);
    // The peak (max_usage) still counts the file, which is gone; after the keep it is the usage
    // at the reset (the kernel's objects the shell left charged), at least the file's size lower.
    const peak = Number(readFileSync(`${m}/memory.max_usage_in_bytes`, 'utf8'));
    expect(peak).to.be.at.least(256 << 10);
    expect(cgKeep(m, spare, { maxUsage: 16 << 20, leftover: 1 << 20 })).to.equal(KEEP.renamed);
    expect(Number(readFileSync(`${spare}/memory.max_usage_in_bytes`, 'utf8'))).to.be.at.most(peak - (128 << 10));
    expect(Number(readFileSync(`${spare}/memory.failcnt`, 'utf8'))).to.equal(0);
  });
});
