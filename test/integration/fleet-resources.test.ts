// Limits on a fleet as a whole (x-skiff.resources) beside each service's Compose limits
// (deploy.resources.limits), in the host's real cgroups (this host is hybrid: v1 controllers):
// the fleet's on its level <parent>/<fleet>, each replica's on its own cgroup below it. Bad
// values are refused naming the key and the value, and leave nothing behind.
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectLayout } from '../../src/main/cgroups/layout.js';
import { useDaemon } from '../support/daemon.js';
import { TempDirs } from '../support/tmp.js';

const layout = detectLayout();
const mountOf = (controller: string): string => (layout.version === 2 ? layout.root : layout.v1.find((h) => h.controllers.includes(controller))!.mount);

describe('fleets: limits on the fleet and on each service', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  after(() => tmp.removeAll());

  const file = (name: string, body: string): string => {
    const f = join(tmp.make('fleet'), `${name}.yaml`);
    writeFileSync(f, body);
    return f;
  };
  const read = (controller: string, path: string, name: string): string => readFileSync(`${mountOf(controller)}/${d.cgroupParent}/${path}/${name}`, 'utf8').trim();

  it('x-skiff.resources on <parent>/<fleet>, deploy.resources.limits {memory: 16m, pids: 50} on each replica; limits dropped from the file are taken back', async () => {
    const f = file('capped', `x-skiff:
  resources: { memory: 64m, cpus: 1.5, pids: 200, cpu_shares: 512 }
services:
  app:
    image: host
    command: ["/bin/sleep", "300"]
    deploy:
      replicas: 2
      resources: { limits: { memory: 16m, pids: 50 } }
`);
    const up = await d.cli(['fleet', 'up', f]);
    expect(up.code, up.stderr + up.stdout).to.equal(0);
    if (layout.version === 1) {
      expect(read('memory', 'capped', 'memory.limit_in_bytes')).to.equal(String(64 << 20));
      expect(read('cpu', 'capped', 'cpu.cfs_quota_us')).to.equal('150000');
      expect(read('cpu', 'capped', 'cpu.cfs_period_us')).to.equal('100000');
      expect(read('cpu', 'capped', 'cpu.shares')).to.equal('512');
      for (const n of [1, 2]) {
        expect(read('memory', `capped/capped-app-${n}`, 'memory.limit_in_bytes')).to.equal(String(16 << 20));
        expect(read('pids', `capped/capped-app-${n}`, 'pids.max')).to.equal('50');
        // Nothing of the fleet's own limits is copied down: the kernel applies the level's to all below it.
        expect(read('cpu', `capped/capped-app-${n}`, 'cpu.cfs_quota_us')).to.equal('-1');
      }
    } else {
      expect(read('memory', 'capped', 'memory.max')).to.equal(String(64 << 20));
      expect(read('cpu', 'capped', 'cpu.max')).to.equal('150000 100000');
      for (const n of [1, 2]) expect(read('memory', `capped/capped-app-${n}`, 'memory.max')).to.equal(String(16 << 20));
    }
    expect(read('pids', 'capped', 'pids.max')).to.equal('200');
    // The level is the replicas' parent: their processes count against its limits.
    const pid = (await d.inspect('capped-app-1')).State.Pid;
    expect(readFileSync(`${mountOf('pids')}/${d.cgroupParent}/capped/capped-app-1/cgroup.procs`, 'utf8').split('\n')).to.include(String(pid));
    expect(Number(read('pids', 'capped', 'pids.current'))).to.be.at.least(2);

    // The same fleet without x-skiff.resources (and the pids limit alone): the level's other
    // limits are taken back, the replicas kept as they are.
    writeFileSync(f, readFileSync(f, 'utf8').replace('resources: { memory: 64m, cpus: 1.5, pids: 200, cpu_shares: 512 }', 'resources: { pids: 300 }'));
    const again = await d.cli(['fleet', 'up', '--json', f]);
    expect(again.code, again.stderr).to.equal(0);
    expect((JSON.parse(again.stdout) as { plan: { keep: number } }).plan.keep).to.equal(2);
    expect(read('pids', 'capped', 'pids.max')).to.equal('300');
    if (layout.version === 1) {
      expect(BigInt(read('memory', 'capped', 'memory.limit_in_bytes')) > 1n << 60n).to.equal(true);
      expect(read('cpu', 'capped', 'cpu.cfs_quota_us')).to.equal('-1');
      expect(read('cpu', 'capped', 'cpu.shares')).to.equal('1024');
    } else {
      expect(read('memory', 'capped', 'memory.max')).to.equal('max');
      expect(read('cpu', 'capped', 'cpu.max')).to.equal('max 100000');
    }
    const down = await d.cli(['fleet', 'down', f]);
    expect(down.code, down.stderr).to.equal(0);
    expect(existsSync(`${mountOf('memory')}/${d.cgroupParent}/capped`)).to.equal(false);
  });

  it('bad values are refused naming the key and the value, at their line, and nothing is created', async () => {
    const cases: [string, string][] = [
      ['memory: 1k', '2:24 x-skiff.resources.memory: must be a number of bytes of at least 6291456 (6m), got 1024'],
      ['memory: lots', '2:24 x-skiff.resources.memory: expected a size such as 64m, 512k, 1g or a number of bytes, got "lots"'],
      ['pids: 0', '2:22 x-skiff.resources.pids: must be a number of processes from 1 to 4194304, got 0'],
      ['cpus: -1', '2:22 x-skiff.resources.cpus: expected a number of CPUs of at least 0.01, such as 0.5 or 2, got -1'],
      ['cpuset: "0-"', '2:24 x-skiff.resources.cpuset: must be a list like 0-2 or 0,3, got "0-"'],
      ['cpu_shares: 1', '2:28 x-skiff.resources.cpu_shares: must be a weight from 2 to 262144, got 1'],
      ['swap: 1g', '2:16 x-skiff.resources.swap: unknown key (known here: memory, memswap, cpus, cpu_shares, pids, cpuset)'],
    ];
    for (const [value, where] of cases) {
      const f = file('bad', `x-skiff:\n  resources: { ${value} }\nservices:\n  app: { image: host, command: ["/bin/true"] }\n`);
      const r = await d.cli(['fleet', 'up', f]);
      expect(r.code, value).to.equal(2);
      expect(r.stderr, value).to.equal(`skiff: ${f}:${where}\n`);
    }
    // CPUs this host does not have get past the file (a list) and are refused by skiffd, naming them.
    const f = file('nocpu', 'x-skiff:\n  resources: { cpuset: "4000-4001" }\nservices:\n  app: { image: host, command: ["/bin/true"] }\n');
    const r = await d.cli(['fleet', 'up', f]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^skiff: resources\.cpusetCpus 4000-4001 names CPUs this host does not have \(4000, 4001\); it has [0-9,-]+\n$/);
    // Nothing was made: no container, no cgroup level of either fleet.
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
    for (const c of ['memory', 'pids', 'cpuset']) {
      expect(existsSync(`${mountOf(c)}/${d.cgroupParent}/bad`), c).to.equal(false);
      expect(existsSync(`${mountOf(c)}/${d.cgroupParent}/nocpu`), c).to.equal(false);
    }
  });
});
