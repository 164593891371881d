// The whole container killed with it, race-free: a process that re-spawns itself and exits
// (its pid changes all the time, so a list of pids read and signalled one by one always misses
// the newest) is moved into a running container's cgroup, with a fork loop inside the container
// too; stopping the container leaves no process of either and no cgroup directory. Run against
// a skiffd that kills through cgroup.kill (this hybrid host's unified hierarchy) and one that
// kills through the v1 freezer (--cgroup-kill freezer: freeze, SIGKILL each, thaw), for real.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until, useDaemon, type TestDaemon } from '../support/daemon.js';
import { useTempDirs } from '../support/tmp.js';
import { detectLayout } from '../../src/main/cgroups/layout.js';
import { Cgroups } from '../../src/main/cgroups/cgroups.js';
import { NO_RESOURCES } from '../../src/spec/resources.js';

const layout = detectLayout();
const allRoots = layout.version === 2 ? [layout.root] : [...layout.v1.map((h) => h.mount), ...(layout.unified ? [layout.unified] : [])];

/** pids of the processes whose command line holds `marker` (only this test's relays carry it) */
function withMarker(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(marker)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function killAllWith(marker: string): void {
  // Only if the test failed: the relays are this test's own processes, ended by pid.
  for (let round = 0; round < 100 && withMarker(marker).length > 0; round++) {
    for (const pid of withMarker(marker)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Far above what the loop and the relay's unreaped orphans reach in the test's few seconds. */
const PIDS_SAFETY_NET = 100_000;

function forkLoopSuite(kill: 'auto' | 'freezer', expected: Cgroups['killMethod']): void {
  describe(`cgroups: a fork loop is killed with its container (--cgroup-kill ${kill})`, function () {
    this.timeout(60_000);
    const d: TestDaemon = useDaemon(['--cgroup-kill', kill]);
    const tmp = useTempDirs();
    const cgroups = new Cgroups(layout, 'unused', { kill });

    it(`kills through ${expected}: no relay process, no fork-loop child and no cgroup directory remains`, async () => {
      expect(cgroups.killMethod).to.equal(expected);
      const dir = tmp.make('skiff-relay-');
      const relay = join(dir, 'relay.sh');
      // Each generation starts the next and exits at once.
      writeFileSync(relay, '#!/bin/sh\n"$0" "$1" &\n');
      chmodSync(relay, 0o755);
      const marker = `skiff-relay-${process.pid}-${kill}`;
      try {
        // Inside: a loop that keeps forking sleepers (twenty a second; the pids limit is only a safety net).
        // The relay's generations end as orphans, and the pids controller counts each until the
        // host's init reaps it: this VM's init (not systemd) can let thousands pile up within a
        // second or two, and at 2000 the loop's shell could no longer fork and exited 2 ("Cannot
        // fork"), taking the relay with it, before the test saw either running.
        const r = await d.cli(['run', '-d', '--name', 'forky', '--pids-limit', String(PIDS_SAFETY_NET), '--', '/bin/sh', '-c', 'while :; do sleep 1000 & sleep 0.05; done']);
        expect(r.code, r.stderr).to.equal(0);
        const container = (name: string): string => `${d.cgroupParent}/${name}`;
        // This daemon's hierarchies are the ones the method needs (the freezer's, or the unified one) and those of stats and the limit.
        const joined = cgroups.rootsFor(container('forky'), { ...NO_RESOURCES, pidsLimit: PIDS_SAFETY_NET });
        for (const root of allRoots) expect(existsSync(`${root}/${container('forky')}`), root).to.equal(joined.includes(root));
        expect(joined.some((root) => root.endsWith(kill === 'freezer' ? '/freezer' : '/unified'))).to.equal(true);
        // Outside: a shell moved into every hierarchy of the container's cgroup, then told to start the relay.
        const starter = spawn('/bin/sh', ['-c', 'read go; exec "$0" "$1"', relay, marker], { stdio: ['pipe', 'ignore', 'ignore'] });
        await new Promise((res) => starter.on('spawn', res));
        for (const root of joined) writeFileSync(`${root}/${container('forky')}/cgroup.procs`, String(starter.pid));
        const procs = (): number[] => readFileSync(`${joined[0]}/${container('forky')}/cgroup.procs`, 'utf8').trim().split('\n').filter(Boolean).map(Number);
        expect(procs()).to.include(starter.pid);
        // Its descendants are born in its cgroup. A generation lives a millisecond or so: seen alive, not pinned down.
        starter.stdin.write('go\n');
        await until(() => withMarker(marker).length > 0, 'the relay running');
        await until(() => procs().length >= 20, 'the fork loop inside the container at work');
        const stop = await d.cli(['stop', '-t', '1', 'forky']);
        expect(stop.code, stop.stderr).to.equal(0);
        // The cgroup is removed only once empty, and stop answers once it is.
        for (const root of allRoots) expect(existsSync(`${root}/${container('forky')}`), root).to.equal(false);
        expect(withMarker(marker)).to.deep.equal([]);
        expect((await d.cli(['rm', 'forky'])).code).to.equal(0);
      } finally {
        killAllWith(marker);
      }
    });

    it('a process moved into a running container\'s cgroup is killed when the container stops', async () => {
      expect((await d.cli(['run', '-d', '--name', 'host-of', '--', '/bin/sleep', '1000'])).code).to.equal(0);
      const stray = spawn('/bin/sleep', ['1000'], { stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((res) => stray.on('exit', (_code, sig) => res(sig)));
      for (const root of cgroups.rootsFor(`${d.cgroupParent}/host-of`, NO_RESOURCES)) writeFileSync(`${root}/${d.cgroupParent}/host-of/cgroup.procs`, String(stray.pid));
      expect((await d.cli(['stop', '-t', '1', 'host-of'])).code).to.equal(0);
      expect(await exited).to.equal('SIGKILL');
      for (const root of allRoots) expect(existsSync(`${root}/${d.cgroupParent}/host-of`), root).to.equal(false);
      expect((await d.cli(['rm', 'host-of'])).code).to.equal(0);
    });
  });
}

forkLoopSuite('auto', layout.version === 1 && !layout.unified ? 'freezer' : 'cgroup.kill');
forkLoopSuite('freezer', 'freezer');
