// Resource limits without root: the spec's validation, the cgroup files and values for v1 and
// v2, the v2 writer on a fake cgroup tree in a temp directory (the writer does not care where
// the root is), a missing controller named, and PID 1 joining its cgroup first in the plan.
import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Cgroups, CgroupUnavailable } from '../../src/main/cgroups/cgroups.js';
import { limitWrites, sharesToWeight } from '../../src/main/cgroups/limits.js';
import { updatedResources } from '../../src/main/docker/resources.js';
import { validateSpec } from '../../src/spec/container.js';
import { NO_RESOURCES, parseBytes, validateResources, type ResourcesSpec } from '../../src/spec/resources.js';
import { buildPlan } from '../../src/workers/plan.js';
import { TempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';
import { OomWatcher, type FdPoller } from '../../src/main/cgroups/oom-watch.js';
import { EPOLL_EVENT_SIZE, close, epollAdd, epollCreate, epollDel, epollWait } from '../../src/sys/libc.js';
import { EPOLLIN } from '../../src/sys/constants.js';

/** skiffd's reaper is the real FdPoller; this one polls its own epoll set from a timer, so the test needs no child subreaper. */
class TestPoller implements FdPoller {
  private readonly epfd = epollCreate();
  private readonly cbs = new Map<number, () => void>();
  private readonly timer = setInterval(() => this.poll(), 5);
  private readonly buf = Buffer.alloc(16 * EPOLL_EVENT_SIZE);

  watchFd(fd: number, onReadable: () => void): () => void {
    this.cbs.set(fd, onReadable);
    epollAdd(this.epfd, fd, EPOLLIN, fd);
    return () => {
      this.cbs.delete(fd);
      epollDel(this.epfd, fd);
    };
  }

  private poll(): void {
    for (const ev of epollWait(this.epfd, this.buf, 0)) this.cbs.get(ev.data)?.();
  }

  /** Runs whatever is ready now. */
  settled(): Promise<void> {
    this.poll();
    return Promise.resolve();
  }

  close(): void {
    clearInterval(this.timer);
    close(this.epfd);
  }
}

const res = (r: Partial<ResourcesSpec>): ResourcesSpec => ({ ...NO_RESOURCES, ...r });
const M = 1024 * 1024;

describe('cgroup limits', () => {
  const tmp = new TempDirs();
  after(() => tmp.removeAll());

  describe('the spec', () => {
    it('sizes in Docker\'s binary units', () => {
      expect(parseBytes('64m')).to.equal(64 * M);
      expect(parseBytes('1g')).to.equal(1024 * M);
      expect(parseBytes('512k')).to.equal(512 * 1024);
      expect(parseBytes('1.5m')).to.equal(1.5 * M);
      expect(parseBytes('lots')).to.equal(null);
    });

    it('refuses a bad value naming the field and the value', () => {
      const bad = (v: unknown): string => {
        try {
          validateSpec({ name: 'c', command: ['/bin/true'], resources: v });
        } catch (err) {
          return (err as Error).message;
        }
        return 'accepted';
      };
      expect(bad({ memory: 1024 })).to.equal('resources.memory must be a number of bytes of at least 6291456 (6m), got 1024');
      expect(bad({ memory: '64m' })).to.equal('resources.memory must be a number of bytes of at least 6291456 (6m), got "64m"');
      expect(bad({ cpuShares: 1 })).to.equal('resources.cpuShares must be a weight from 2 to 262144, got 1');
      expect(bad({ cpuPeriod: 100000 })).to.equal('resources.cpuPeriod needs cpuQuota to be set too');
      expect(bad({ memorySwap: 64 * M })).to.equal('resources.memorySwap needs memory to be set too');
      expect(bad({ pidsLimit: 0 })).to.equal('resources.pidsLimit must be a number of processes from 1 to 4194304, got 0');
      expect(bad({ cpusetCpus: '0-' })).to.equal('resources.cpusetCpus must be a list like 0-2 or 0,3, got "0-"');
      expect(bad({ swap: 1 })).to.match(/^resources\.swap is not a known field/);
    });

    it('docker update keeps what the body leaves at 0 and validates the result', () => {
      const now = res({ memory: 64 * M, pidsLimit: 10 });
      expect(updatedResources(now, { Memory: 128 * M, PidsLimit: 0, NanoCpus: 500_000_000 })).to.deep.equal(res({ memory: 128 * M, pidsLimit: 10, cpuQuota: 50_000, cpuPeriod: 100_000 }));
      expect(() => updatedResources(now, { Memory: 1024 })).to.throw('Memory must be a number of bytes of at least 6291456 (6m), got 1024');
    });
  });

  describe('files and values', () => {
    const all = res({ memory: 64 * M, memoryReservation: 32 * M, cpuQuota: 50_000, cpuShares: 512, pidsLimit: 20, cpusetCpus: '0', cpusetMems: '0' });

    it('v1: limit_in_bytes, memsw (twice memory unless set), soft limit, CFS period then quota, shares, pids, cpuset', () => {
      expect(limitWrites(1, all).map((w) => `${w.controller} ${w.file}=${w.value}`)).to.deep.equal([
        `memory memory.limit_in_bytes=${64 * M}`, `memory memory.memsw.limit_in_bytes=${128 * M}`, `memory memory.soft_limit_in_bytes=${32 * M}`,
        'cpu cpu.cfs_period_us=100000', 'cpu cpu.cfs_quota_us=50000', 'cpu cpu.shares=512', 'pids pids.max=20', 'cpuset cpuset.cpus=0', 'cpuset cpuset.mems=0',
      ]);
      expect(limitWrites(1, res({ memory: 64 * M, memorySwap: -1 })).map((w) => w.value)).to.deep.equal([String(64 * M), '-1']);
    });

    it('v2: memory.max, memory.swap.max (swap alone), memory.low, cpu.max, cpu.weight by runc\'s conversion', () => {
      expect(limitWrites(2, all).map((w) => `${w.file}=${w.value}`)).to.deep.equal([
        `memory.max=${64 * M}`, `memory.swap.max=${64 * M}`, `memory.low=${32 * M}`, 'cpu.max=50000 100000', `cpu.weight=${sharesToWeight(512)}`,
        'pids.max=20', 'cpuset.cpus=0', 'cpuset.mems=0',
      ]);
      expect([2, 1024, 262144].map(sharesToWeight)).to.deep.equal([1, 39, 10000]);
    });

    it('v2 on a fake tree: levels pass the controllers down, the container\'s files hold the limits', () => {
      const root = tmp.make('cgroup2');
      writeFileSync(`${root}/cgroup.controllers`, 'cpu memory pids\n');
      const cg = new Cgroups({ version: 2, root, v1: [], unified: root, controllers: new Set(['cpu', 'memory', 'pids']) }, 'skiff');
      const c = cg.create(cg.pathOf('web', 'shop'), res({ memory: 64 * M, cpuQuota: 25_000, pidsLimit: 20 }));
      expect(c.dirs).to.deep.equal([`${root}/skiff/shop/web`]);
      expect(cg.procsFiles(c)).to.deep.equal([`${root}/skiff/shop/web/cgroup.procs`]);
      const read = (f: string): string => readFileSync(`${root}/${f}`, 'utf8');
      expect(read('cgroup.subtree_control')).to.equal('+cpu +memory +pids');
      expect(read('skiff/cgroup.subtree_control')).to.equal('+cpu +memory +pids');
      expect(read('skiff/shop/cgroup.subtree_control')).to.equal('+cpu +memory +pids');
      expect(read('skiff/shop/web/memory.max')).to.equal(String(64 * M));
      expect(read('skiff/shop/web/cpu.max')).to.equal('25000 100000');
      expect(read('skiff/shop/web/pids.max')).to.equal('20');
      writeFileSync(`${root}/skiff/shop/web/memory.events`, 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
      expect(cg.oomKills(c)).to.equal(1);
    });

    it('v2 OOM watch on a fake tree: each change of memory.events\' oom_kill is seen through inotify, from one epoll set; nothing after stop', async () => {
      const dir = tmp.make('cgroup2-oom');
      writeFileSync(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 2\n');
      const poller = new TestPoller();
      const watcher = new OomWatcher(poller, 2);
      const seen: number[] = [];
      const w = watcher.watch(dir, (n) => seen.push(n));
      try {
        expect(w.baseline).to.equal(2);
        writeFileSync(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 1\noom 1\noom_kill 3\n');
        await until(() => seen.length === 1, 'the first kill');
        writeFileSync(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 1\noom 1\noom_kill 3\n'); // modified, no new kill
        writeFileSync(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 2\noom 2\noom_kill 5\n');
        await until(() => seen.length === 2, 'the next kills');
        expect(seen).to.deep.equal([3, 5]);
        expect(w.count()).to.equal(5);
        w.stop();
        expect(w.count()).to.equal(null);
        writeFileSync(`${dir}/memory.events`, 'oom_kill 9\n');
        // a wake-up that is not the file's: everything the poller would have run for it has run
        await poller.settled();
        expect(seen).to.deep.equal([3, 5]);
      } finally {
        w.stop();
        watcher.close();
        poller.close();
      }
    });

    it('hybrid on a fake tree: PID 1 joins a v1 hierarchy through `tasks` (no threadgroup lock), the unified one through cgroup.procs', () => {
      const root = tmp.make('hybrid');
      const layout = { version: 1 as const, root, v1: [{ mount: `${root}/memory`, controllers: ['memory'] }], unified: `${root}/unified`, controllers: new Set(['memory']) };
      for (const h of ['memory', 'unified']) mkdirSync(`${root}/${h}`);
      writeFileSync(`${root}/unified/cgroup.kill`, '');
      const cg = new Cgroups(layout, 'skiff', { spares: false });
      const c = cg.create(cg.pathOf('web', null), NO_RESOURCES);
      expect(cg.procsFiles(c)).to.have.members([`${root}/memory/skiff/web/tasks`, `${root}/unified/skiff/web/cgroup.procs`]);
    });

    it('a limit whose controller the host lacks is refused naming the limit and the controller', () => {
      const root = tmp.make('cgroup2');
      const cg = new Cgroups({ version: 2, root, v1: [], unified: root, controllers: new Set(['memory']) }, 'skiff');
      expect(() => cg.check(res({ memory: 64 * M }))).not.to.throw();
      expect(() => cg.check(res({ memory: 64 * M, cpusetCpus: '0' }))).to.throw(CgroupUnavailable, 'resources.cpusetCpus needs the cgroup controller cpuset, which this host does not have');
      expect(() => cg.check(res({ cpuShares: 100 }))).to.throw(CgroupUnavailable, 'resources.cpuShares needs the cgroup controller cpu');
    });

    it('refuses a cgroup parent that is not a relative path of names', () => {
      const layout = { version: 2 as const, root: '/x', v1: [], unified: '/x', controllers: new Set<string>() };
      for (const p of ['', '/abs', '../up', 'a//b', 'a/..']) expect(() => new Cgroups(layout, p), p).to.throw(/--cgroup-parent must be a relative path of names/);
    });
  });

  it('the plan joins every hierarchy first, before PID 1 does anything else', () => {
    const spec = validateSpec({ name: 'c', command: ['/bin/true'] });
    const plan = buildPlan(spec, { rootMount: '/r', layer: null, console: { kind: 'null' }, lastCap: 40, hidden: [], cgroupProcs: ['/sys/fs/cgroup/memory/skiff/c/cgroup.procs', '/sys/fs/cgroup/unified/skiff/c/cgroup.procs'] });
    expect(plan.ops.slice(0, 3).map((o) => o.op)).to.deep.equal(['join_cgroup', 'join_cgroup', 'set_dumpable']);
    expect(plan.ops[0]).to.include({ path: '/sys/fs/cgroup/memory/skiff/c/cgroup.procs' });
    expect(validateResources(undefined)).to.deep.equal(NO_RESOURCES);
  });
});
