// Resources: a cgroup per container under the daemon's own parent, limits the kernel enforces,
// OOM kills reported, everything in the cgroup killed with the container, stats and update.
// Real containers and the host's real cgroups (this host is hybrid: v1 controllers + unified).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { requireDocker, TestDaemon, until, useDaemon } from '../support/daemon.js';
import { detectLayout } from '../../src/main/cgroups/layout.js';
import { Cgroups } from '../../src/main/cgroups/cgroups.js';
import { SPARE_PREFIX } from '../../src/main/cgroups/memcg-pool.js';
import { NO_RESOURCES, type ResourcesSpec } from '../../src/spec/resources.js';
import { isZombie } from '../../src/sys/proc.js';
import { close, pidfdOpen, waitPidfd } from '../../src/sys/libc.js';

const layout = detectLayout();
/** the hierarchies a container may join (memory, cpu, cpuacct, pids, cpuset and the unified one here) */
const cgroups = new Cgroups(layout, 'unused');
const roots = cgroups.roots;
/** those a container with these limits joins (here: memory, cpuacct and the unified one, and the hierarchies of its limits) */
const joins = (r: Partial<ResourcesSpec> = {}): string[] => cgroups.rootsFor('unused/c', { ...NO_RESOURCES, ...r });
/** every hierarchy, to check that none holds a directory of ours */
const allRoots = layout.version === 2 ? [layout.root] : [...layout.v1.map((h) => h.mount), ...(layout.unified ? [layout.unified] : [])];
const mountOf = (controller: string): string => (layout.version === 2 ? layout.root : layout.v1.find((h) => h.controllers.includes(controller))!.mount);

/** Every directory under the daemon's cgroup parent, in every hierarchy. */
function cgroupDirs(parent: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      // A spare memory cgroup (memcg-pool.ts) is no container's: bounded, and gone with skiffd.
      if (e.isDirectory() && !e.name.startsWith(SPARE_PREFIX)) {
        out.push(`${dir}/${e.name}`);
        walk(`${dir}/${e.name}`);
      }
    }
  };
  for (const root of allRoots) if (existsSync(`${root}/${parent}`)) walk(`${root}/${parent}`);
  return out;
}

describe('cgroups: limits, OOM, the whole container killed, stats', function () {
  this.timeout(60_000);
  const d = useDaemon();

  const cli = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    expect(r.code, `skiff ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  const cgroupFile = (controller: string, name: string, file: string): string => readFileSync(`${mountOf(controller)}/${d.cgroupParent}/${name}/${file}`, 'utf8').trim();
  /** The container's CPU time: v1 cpuacct, or where it has no cpuacct cgroup (killed through the unified hierarchy) cpu.stat of its cgroup2 directory. */
  const usageNs = (name: string): number => {
    if (layout.version === 1 && !layout.unified) return Number(cgroupFile('cpuacct', name, 'cpuacct.usage'));
    const stat = readFileSync(`${layout.unified ?? layout.root}/${d.cgroupParent}/${name}/cpu.stat`, 'utf8');
    return Number(/^usage_usec (\d+)$/m.exec(stat)![1]) * 1000;
  };

  afterEach(() => {
    // every test removes its containers: nothing of them may be left in any hierarchy
    expect(cgroupDirs(d.cgroupParent)).to.deep.equal([]);
  });

  it('--memory 32m and a process that allocates 200 MB: exit 137, OOMKilled, an oom event, ps says so', async () => {
    const r = await d.cli(['run', '--name', 'oom', '--memory', '32m', '--', '/bin/sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived']);
    expect(r.code).to.equal(137);
    expect(r.stdout).not.to.include('survived');
    const inspect = (await d.api('GET', '/containers/oom/json')).body as { Created: string; State: { OOMKilled: boolean; ExitCode: number; FinishedAt: string }; HostConfig: { Memory: number } };
    expect(inspect.State).to.include({ OOMKilled: true, ExitCode: 137 });
    expect(inspect.HostConfig.Memory).to.equal(32 << 20);
    expect(await cli(['ps', '-a'])).to.match(/oom\s+exited\s+-\s+Exited \(137\) \(OOM killed\)/);
    // The container's own life, by skiffd's clock: from its creation to a second past its end
    // (FinishedAt is stamped just before the die event).
    const until = new Date(Date.parse(inspect.State.FinishedAt) + 1000).toISOString();
    const events = await d.api('GET', `/events?since=${inspect.Created}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ container: ['oom'] }))}`);
    const actions = events.text.trim().split('\n').map((l) => (JSON.parse(l) as { Action: string }).Action);
    // the oom event comes before the die event (the order the stream has them in)
    expect(actions.filter((a) => a === 'oom' || a === 'die')).to.deep.equal(['oom', 'die']);
    await cli(['rm', 'oom']);
  });

  it('a container without limits is not OOM-killed and still gets a cgroup of its own, joined before exec, in the hierarchies stats read', async () => {
    const out = await cli(['run', '--rm', '--', '/bin/cat', '/proc/self/cgroup']);
    const joined = out.trim().split('\n').filter((l) => l.endsWith(`:/${d.cgroupParent}/${/:\/[^/]+\/(skiff_[0-9a-f]+)$/.exec(l)?.[1] ?? 'none'}`));
    // one line per joined hierarchy: 1:cpu:/…, 4:memory:/…, 0::/… (the unified one)
    expect(joined.map((l) => l.split(':')[1]).sort()).to.deep.equal(layout.version === 2 ? [''] : [...layout.v1.filter((h) => joins().includes(h.mount)).map((h) => h.controllers.join(',')), ...(layout.unified ? [''] : [])].sort());
    // cpuacct only without the unified hierarchy: that one's cpu.stat counts the CPU time stats reads
    if (layout.version === 1) expect(joined.map((l) => l.split(':')[1]).sort()).to.deep.equal(layout.unified ? ['', 'memory'] : ['cpuacct', 'freezer', 'memory']);
  });

  it('--pids-limit 20 with a fork loop: forks fail inside, the host forks on', async () => {
    await cli(['run', '-d', '--name', 'pids', '--pids-limit', '20', '--', '/bin/sh', '-c', 'sleep 1000']);
    expect(cgroupFile('pids', 'pids', 'pids.max')).to.equal('20');
    await cli(['rm', '-f', 'pids']);
    const r = await d.cli(['run', '--rm', '--pids-limit', '20', '--', '/bin/sh', '-c', 'for i in $(seq 1 40); do sleep 1000 & done; echo all forked']);
    expect(r.code).to.equal(2); // dash gives up when fork fails
    expect(r.stderr).to.include('Cannot fork'); // the shell's complaint, on the container's stderr
    expect(r.stdout).not.to.include('all forked');
    // the host is not limited: this process forks as it likes
    const child = spawn('/bin/true');
    expect(await new Promise((res) => child.on('exit', res))).to.equal(0);
  });

  it('--cpus 0.25 on a busy loop: the kernel holds it to its quota, by the cgroup\'s own period and usage counters', async () => {
    await cli(['run', '-d', '--name', 'busy', '--cpus', '0.25', '--', '/bin/sh', '-c', 'while :; do :; done']);
    expect(cgroupFile('cpu', 'busy', 'cpu.cfs_quota_us')).to.equal('25000');
    expect(cgroupFile('cpu', 'busy', 'cpu.cfs_period_us')).to.equal('100000');
    // No wall clock: a loaded machine may give the loop less than its quota, never more. The
    // kernel counts the periods the group was runnable in and how often the quota stopped it.
    const sample = () => {
      const stat = new Map(cgroupFile('cpu', 'busy', 'cpu.stat').split('\n').map((l): [string, number] => [l.split(' ')[0] ?? '', Number(l.split(' ')[1])]));
      return { periods: stat.get('nr_periods') ?? 0, throttled: stat.get('nr_throttled') ?? 0, usageNs: usageNs('busy') };
    };
    const s0 = sample();
    // At least 20 periods, and one where the quota stopped the loop (on a loaded machine the loop
    // may get less than its quota for a while: then it is not throttled, and this waits on).
    await until(() => {
      const s = sample();
      return s.periods - s0.periods >= 20 && s.throttled > s0.throttled;
    }, '20 scheduler periods of the busy loop, one of them throttled');
    const s1 = sample();
    const periods = s1.periods - s0.periods;
    const share = (s1.usageNs - s0.usageNs) / (periods * 100_000_000);
    console.log(`      ${periods} periods: ${(share * 100).toFixed(1)}% of a core used (quota 25%), throttled in ${s1.throttled - s0.throttled}`);
    // At most the quota in each period (one period of slack for the two reads not being one instant)…
    expect(s1.usageNs - s0.usageNs).to.be.lte((periods + 1) * 25_000_000);
    // …and the loop wanted more: the quota stopped it.
    expect(s1.throttled - s0.throttled).to.be.greaterThan(0);
    // stats reads the same CPU time (v1 cpuacct, or the cgroup2 directory's cpu.stat where it has no cpuacct one)
    const stats = (await d.api('GET', '/containers/busy/stats?stream=false')).body as { cpu_stats: { cpu_usage: { total_usage: number; usage_in_usermode: number } } };
    expect(stats.cpu_stats.cpu_usage.total_usage).to.be.gte(s1.usageNs);
    expect(stats.cpu_stats.cpu_usage.usage_in_usermode).to.be.greaterThan(0);
    await cli(['rm', '-f', 'busy']);
  });

  it('a process moved into a running container\'s cgroup is killed when the container stops', async () => {
    await cli(['run', '-d', '--name', 'host-of', '--', '/bin/sleep', '1000']);
    const stray = spawn('/bin/sleep', ['1000'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => stray.on('exit', (_code, sig) => res(sig)));
    for (const root of joins()) writeFileSync(`${root}/${d.cgroupParent}/host-of/cgroup.procs`, String(stray.pid));
    await cli(['stop', '-t', '1', 'host-of']);
    expect(await exited).to.equal('SIGKILL');
    expect(cgroupDirs(d.cgroupParent)).to.deep.equal([]);
    await cli(['rm', 'host-of']);
  });

  it('bad limits: usage errors and 400s naming the value; nothing created', async () => {
    const before = (await d.api('GET', '/containers/json?all=1')).body as unknown[];
    for (const [args, text] of [
      [['--memory', '1k'], "option '-m, --memory <SIZE>' argument '1k' is invalid. Expected at least 6m"],
      [['--memory', 'lots'], "option '-m, --memory <SIZE>' argument 'lots' is invalid"],
      [['--cpus', '-1'], "option '--cpus <N>' argument '-1' is invalid"],
      [['--cpus', '0'], "option '--cpus <N>' argument '0' is invalid"],
      [['--pids-limit', 'x'], "option '--pids-limit <N>' argument 'x' is invalid"],
    ] as const) {
      const r = await d.cli(['run', '--rm', ...args, '--', '/bin/true']);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr).to.include(text);
    }
    for (const [host, text] of [
      [{ Memory: 1024 }, 'HostConfig.Memory must be a number of bytes of at least 6291456 (6m), got 1024'],
      [{ NanoCpus: -1 }, 'HostConfig.NanoCpus must be a positive number of billionths of a CPU'],
      [{ Memory: 'lots' }, 'HostConfig.Memory must be a whole number, got "lots"'],
      [{ CpuShares: 1 }, 'HostConfig.CpuShares must be a weight from 2 to 262144, got 1'],
      [{ Memory: 64 << 20, MemorySwap: 32 << 20 }, 'HostConfig.MemorySwap must be at least memory (67108864), got 33554432'],
      [{ CpusetCpus: 'all' }, 'HostConfig.CpusetCpus must be a list like 0-2 or 0,3, got "all"'],
      [{ CpusetCpus: '0,4096' }, 'resources.cpusetCpus 0,4096 names CPUs this host does not have (4096); it has '],
    ] as const) {
      const r = await d.api('POST', '/containers/create?name=bad', { Image: 'host', Cmd: ['/bin/true'], HostConfig: host });
      expect(r.status, JSON.stringify(host)).to.equal(400);
      expect((r.body as { message: string }).message).to.include(text);
    }
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal(before);
  });

  it('GET /info says cgroupfs and the version', async () => {
    const info = (await d.api('GET', '/info')).body as { CgroupDriver: string; CgroupVersion: string };
    expect(info).to.include({ CgroupDriver: 'cgroupfs', CgroupVersion: String(layout.version) });
  });

  it('many containers started and removed: no cgroup directory left', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `many-${i}`);
    await Promise.all(names.map((n) => cli(['run', '-d', '--name', n, '--memory', '16m', '--pids-limit', '50', '--', '/bin/sleep', '1000'])));
    expect(cgroupDirs(d.cgroupParent).length).to.equal(names.length * joins({ memory: 16 << 20, pidsLimit: 50 }).length);
    await Promise.all(names.map((n) => cli(['rm', '-f', n])));
    await Promise.all(names.slice(0, 6).map((n) => cli(['run', '--rm', '--name', n, '--', '/bin/true'])));
  });

  it('a fleet\'s containers get a level of their own, with their Compose limits; fleet down leaves nothing', async () => {
    const file = `${d.dir}/fleet.yaml`;
    writeFileSync(file, ['name: rf', 'services:', '  web:', '    image: host', '    command: [/bin/sleep, "1000"]', '    mem_limit: 64m',
      '    deploy:', '      replicas: 2', '      resources: { limits: { cpus: "0.5", pids: 30 } }', ''].join('\n'));
    await cli(['fleet', 'up', '--wait', file]);
    expect(cgroupFile('memory', 'rf/rf-web-1', 'memory.limit_in_bytes')).to.equal(String(64 << 20));
    expect(cgroupFile('cpu', 'rf/rf-web-2', 'cpu.cfs_quota_us')).to.equal('50000');
    expect(cgroupFile('pids', 'rf/rf-web-2', 'pids.max')).to.equal('30');
    await cli(['fleet', 'down', file]);
  });

  it('skiff update changes a running container\'s limits; skiff stats reads its cgroup', async () => {
    await cli(['run', '-d', '--name', 'upd', '--memory', '64m', '--', '/bin/sleep', '1000']);
    await cli(['update', '--memory', '128m', '--cpus', '0.5', '--pids-limit', '40', 'upd']);
    expect(cgroupFile('memory', 'upd', 'memory.limit_in_bytes')).to.equal(String(128 << 20));
    expect(cgroupFile('cpu', 'upd', 'cpu.cfs_quota_us')).to.equal('50000');
    expect(cgroupFile('pids', 'upd', 'pids.max')).to.equal('40');
    // Started without CPU or pids limits, it was in neither hierarchy: its processes were moved there.
    for (const c of ['cpu', 'pids']) expect(cgroupFile(c, 'upd', 'cgroup.procs'), c).to.equal(cgroupFile('memory', 'upd', 'cgroup.procs'));
    // above the current memory+swap limit (256m): the kernel takes memsw first, then memory
    await cli(['update', '--memory', '512m', 'upd']);
    expect(cgroupFile('memory', 'upd', 'memory.limit_in_bytes')).to.equal(String(512 << 20));
    if (existsSync(`${mountOf('memory')}/${d.cgroupParent}/upd/memory.memsw.limit_in_bytes`)) {
      expect(cgroupFile('memory', 'upd', 'memory.memsw.limit_in_bytes')).to.equal(String(1024 << 20));
    }
    await cli(['update', '--memory', '128m', 'upd']);
    expect(await cli(['stats', 'upd'])).to.match(/^NAME +CPU % +MEM USAGE \/ LIMIT +PIDS\nupd +\d+\.\d\d% +[\d.]+MiB \/ 128\.0MiB +1\n$/);
    const bad = await d.cli(['update', '--memory', '64m', '--memory-swap', '32m', 'upd']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('MemorySwap must be at least memory (67108864), got 33554432');
    expect(cgroupFile('memory', 'upd', 'memory.limit_in_bytes')).to.equal(String(128 << 20));
    await cli(['rm', '-f', 'upd']);
  });

  describe('with the docker CLI', () => {
    before(requireDocker);

    it('docker stats --no-stream lists running containers with memory and CPU; docker update --memory changes the limit', async () => {
      await cli(['run', '-d', '--name', 'stat-a', '--memory', '64m', '--', '/bin/sh', '-c', 'while :; do :; done']);
      await cli(['run', '-d', '--name', 'stat-b', '--', '/bin/sleep', '1000']);
      const r = await d.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}']);
      expect(r.code, r.stderr).to.equal(0);
      const rows: Record<string, string> = Object.fromEntries(r.stdout.trim().split('\n').map((l): [string, string] => [l.split(' ')[0]!, l]));
      expect(Object.keys(rows).sort()).to.deep.equal(['stat-a', 'stat-b']);
      expect(rows['stat-a']).to.match(/^stat-a \d+\.\d+% [\d.]+[KMG]iB \/ 64MiB 1$/);
      expect(Number(/ ([\d.]+)%/.exec(rows['stat-a'] ?? '')?.[1])).to.be.above(10);
      expect(rows['stat-b']).to.match(/^stat-b 0\.00% [\d.]+[KMG]?i?B \/ [\d.]+GiB 1$/);

      const u = await d.docker(['update', '--memory', '100m', '--memory-swap', '200m', 'stat-a']);
      expect(u.code, u.stderr).to.equal(0);
      expect(cgroupFile('memory', 'stat-a', 'memory.limit_in_bytes')).to.equal(String(100 << 20));
      expect((await d.docker(['inspect', '-f', '{{.HostConfig.Memory}}', 'stat-a'])).stdout.trim()).to.equal(String(100 << 20));
      const bad = await d.docker(['update', '--memory', '1k', 'stat-a']);
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.include('Memory');
      await cli(['rm', '-f', 'stat-a', 'stat-b']);
    });

    it('docker inspect -f {{.State.OOMKilled}} prints true after an OOM kill', async () => {
      const r = await d.docker(['run', '--name', 'oom-d', '--memory', '32m', 'host', '/bin/sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a)']);
      expect(r.code).to.equal(137);
      expect((await d.docker(['inspect', '-f', '{{.State.OOMKilled}}', 'oom-d'])).stdout.trim()).to.equal('true');
      await cli(['rm', 'oom-d']);
    });
  });

});

/** Reaps `pid` if it is a zombie child of this process (an orphan it took in as the child subreaper). */
function reapIfOurs(pid: number): void {
  if (pid <= 0 || !isZombie(pid)) return;
  const fd = pidfdOpen(pid);
  try {
    waitPidfd(fd);
  } catch {
    // ECHILD: another process's zombie, for its parent to reap
  } finally {
    close(fd);
  }
}

describe('cgroups: the daemon\'s parent', function () {
  this.timeout(60_000);

  it('skiffd makes its --cgroup-parent in every hierarchy and removes it when it stops', async () => {
    const d = new TestDaemon(['--cgroup-parent', `skiff-test-parent-${process.pid}`]);
    try {
      await d.start();
      const r = await d.cli(['run', '--rm', '--', '/bin/true']);
      expect(r.code, r.stderr).to.equal(0);
      for (const root of roots) expect(statSync(`${root}/${d.cgroupParent}`).isDirectory(), root).to.equal(true);
    } finally {
      await d.destroy();
    }
    for (const root of roots) expect(existsSync(`${root}/${d.cgroupParent}`), root).to.equal(false);
  });

  it('a container\'s cgroup removed after skiffd\'s close (its exit still being torn down) takes the parent with it and keeps no spare', () => {
    // The order a stopping skiffd can see: close() runs while a container's directory is still
    // there (so the parent stays), and the exit's teardown removes that directory afterwards.
    const parent = `skiff-test-late-${process.pid}`;
    const own = new Cgroups(layout, parent);
    const cg = own.create(`${parent}/late`, { ...NO_RESOURCES, memory: 64 << 20, pidsLimit: 50 });
    try {
      own.close();
      for (const d of cg.dirs) expect(existsSync(d), d).to.equal(true);
      expect(own.removeDirs(cg)).to.equal(true);
    } finally {
      own.removeDirs(cg);
      own.close();
    }
    for (const root of allRoots) expect(existsSync(`${root}/${parent}`), root).to.equal(false);
  });

  it('a container whose PID 1 died while skiffd was down: the restarted skiffd removes its cgroup, and the parent when it stops', async () => {
    const d = new TestDaemon(['--cgroup-parent', `skiff-test-lost-${process.pid}`]);
    let pid = 0;
    try {
      await d.start();
      const r = await d.cli(['run', '-d', '--name', 'lost', '--', '/bin/sleep', '1000']);
      expect(r.code, r.stderr).to.equal(0);
      pid = (await d.inspect('lost')).State.Pid;
      await d.stop('SIGKILL');
      process.kill(pid, 'SIGKILL');
      // Orphaned by skiffd's death, the PID 1 goes to the nearest child subreaper: this test
      // process, once another file's in-process harness has made it one (then nothing here
      // reaps it and it stays a zombie), or the machine's init. Either way it has exited.
      await until(() => !existsSync(`/proc/${pid}`) || isZombie(pid), 'the container\'s PID 1 to exit');
      await d.start();
      await until(() => allRoots.every((root) => !existsSync(`${root}/${d.cgroupParent}/lost`)), 'the lost container\'s cgroup to be removed');
    } finally {
      await d.destroy();
      reapIfOurs(pid);
    }
    for (const root of allRoots) expect(existsSync(`${root}/${d.cgroupParent}`), root).to.equal(false);
  });

  it('--default-pids-limit applies to a container that sets none; a restarted skiffd adopts the cgroup and removes it at the exit', async () => {
    const d = new TestDaemon(['--cgroup-parent', `skiff-test-adopt-${process.pid}`, '--default-pids-limit', '50']);
    const pidsMax = (name: string): string => readFileSync(`${mountOf('pids')}/${d.cgroupParent}/${name}/pids.max`, 'utf8').trim();
    try {
      await d.start();
      expect((await d.cli(['run', '-d', '--name', 'dflt', '--', '/bin/sleep', '1000'])).code).to.equal(0);
      expect((await d.cli(['run', '-d', '--name', 'own', '--pids-limit', '7', '--', '/bin/sleep', '1000'])).code).to.equal(0);
      expect([pidsMax('dflt'), pidsMax('own')]).to.deep.equal(['50', '7']);
      // skiffd answers a start before state.json says running: killed before that, it would not adopt them
      await until(() => ['dflt', 'own'].every((n) => (JSON.parse(readFileSync(`${d.stateDir}/${n}/state.json`, 'utf8')) as { status: string }).status === 'running'), 'both records written as running');
      await d.stop('SIGKILL');
      await d.start();
      expect((await d.cli(['stop', '-t', '0', 'dflt'])).code).to.equal(0);
      expect(existsSync(`${mountOf('pids')}/${d.cgroupParent}/dflt`)).to.equal(false);
      expect(pidsMax('own')).to.equal('7');
    } finally {
      await d.destroy();
    }
    for (const root of allRoots) expect(existsSync(`${root}/${d.cgroupParent}`), root).to.equal(false);
  });
});
