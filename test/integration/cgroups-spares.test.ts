// Spare cpu and pids cgroups (src/main/cgroups/limit-spares.ts): an exited container's are kept
// with the limits they hold and handed to the next container that asks for the same ones, which
// then sees exactly its own limits, under its own name. Real containers, the host's real v1
// hierarchies (this host is hybrid).
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { TestDaemon, useDaemon } from '../support/daemon.js';
import { detectLayout } from '../../src/main/cgroups/layout.js';
import { SPARE_PREFIX } from '../../src/main/cgroups/spare-dirs.js';

const layout = detectLayout();
const mountOf = (controller: string): string => layout.v1.find((h) => h.controllers.includes(controller))!.mount;
/** every hierarchy, to check that none holds a directory of ours */
const allRoots = [...layout.v1.map((h) => h.mount), ...(layout.unified ? [layout.unified] : [])];
/** cpu and pids each on a hierarchy of their own, as here: where spares keep limits */
const ownHierarchies = layout.version === 1 && ['cpu', 'pids'].every((c) => layout.v1.find((h) => h.controllers.includes(c))?.controllers.length === 1);

describe('cgroups: spare cpu and pids cgroups, reused by the limits they hold', function () {
  this.timeout(60_000);
  before(function () {
    if (!ownHierarchies) this.skip();
  });
  const d = useDaemon();

  const cli = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    expect(r.code, `skiff ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  const spares = (c: string): string[] => readdirSync(`${mountOf(c)}/${d.cgroupParent}`).filter((n) => n.startsWith(SPARE_PREFIX));
  const file = (c: string, name: string, f: string): string => readFileSync(`${mountOf(c)}/${d.cgroupParent}/${name}/${f}`, 'utf8').trim();
  const pidOf = async (name: string): Promise<number> => ((await d.api('GET', `/containers/${name}/json`)).body as { State: { Pid: number } }).State.Pid;

  it('the next container with the same limits takes the spares, under its own name; one with other limits, or after an update, gets exactly its own', async () => {
    await cli(['run', '--name', 'first', '--cpus', '0.5', '--pids-limit', '100', '--', '/bin/true']);
    await cli(['rm', 'first']);
    const before = { cpu: spares('cpu').length, pids: spares('pids').length };
    expect(before.cpu).to.be.greaterThan(0);
    expect(before.pids).to.be.greaterThan(0);

    await cli(['run', '-d', '--name', 'same', '--cpus', '0.5', '--pids-limit', '100', '--', '/bin/sleep', '1000']);
    expect({ cpu: spares('cpu').length, pids: spares('pids').length }).to.deep.equal({ cpu: before.cpu - 1, pids: before.pids - 1 });
    expect([file('cpu', 'same', 'cpu.cfs_quota_us'), file('cpu', 'same', 'cpu.shares'), file('pids', 'same', 'pids.max')]).to.deep.equal(['50000', '1024', '100']);
    // What the container's processes (and `docker inspect`'s readers) see: its own name in every hierarchy.
    const pid = await pidOf('same');
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
    for (const c of ['cpu', 'pids', 'memory', '']) expect(lines.filter((l) => l.split(':')[1] === c).map((l) => l.split(':')[2]), c).to.deep.equal([`/${d.cgroupParent}/same`]);
    expect(file('pids', 'same', 'cgroup.procs').split('\n')).to.include(String(pid));
    expect(await cli(['stats', 'same'])).to.match(/\nsame +\d+\.\d\d% .* 1\n$/);

    // Updated to other limits, its spare holds those, and a container asking for the first ones does not get them.
    await cli(['update', '--cpus', '0.25', '--pids-limit', '50', 'same']);
    await cli(['rm', '-f', 'same']);
    await cli(['run', '-d', '--name', 'again', '--cpus', '0.5', '--pids-limit', '100', '--', '/bin/sleep', '1000']);
    expect([file('cpu', 'again', 'cpu.cfs_quota_us'), file('pids', 'again', 'pids.max')]).to.deep.equal(['50000', '100']);
    await cli(['rm', '-f', 'again']);

    // A spare with shares 512: not for a container that sets only a quota (a new cgroup's shares are 1024).
    await cli(['run', '--name', 'shares', '--cpus', '0.5', '--cpu-shares', '512', '--', '/bin/true']);
    await cli(['rm', 'shares']);
    await cli(['run', '-d', '--name', 'quota', '--cpus', '0.5', '--', '/bin/sleep', '1000']);
    expect([file('cpu', 'quota', 'cpu.cfs_quota_us'), file('cpu', 'quota', 'cpu.shares')]).to.deep.equal(['50000', '1024']);
    await cli(['rm', '-f', 'quota']);
  });

  it('the spares of a skiffd that was killed are removed by the next one; a stopped skiffd leaves none', async () => {
    const t = new TestDaemon(['--cgroup-parent', `skiff-test-spares-${process.pid}`]);
    try {
      await t.start();
      expect((await t.cli(['run', '--rm', '--cpus', '0.5', '--pids-limit', '100', '--', '/bin/true'])).code).to.equal(0);
      expect(readdirSync(`${mountOf('cpu')}/${t.cgroupParent}`).filter((n) => n.startsWith(SPARE_PREFIX))).to.have.length.greaterThan(0);
      await t.stop('SIGKILL');
      await t.start();
      expect((await t.cli(['run', '--rm', '--pids-limit', '7', '--', '/bin/true'])).code).to.equal(0);
    } finally {
      await t.destroy();
    }
    for (const root of allRoots) expect(existsSync(`${root}/${t.cgroupParent}`), root).to.equal(false);
  });
});
