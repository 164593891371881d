// skiffd killed with SIGKILL in the middle of a burst of 1000 container starts, at a point
// chosen at random (printed, to replay it with SKIFF_CRASH_AT): after a restart on the same
// state dir, no running container and no record is lost. Every container whose create was
// answered has a record; every one whose start was answered runs, adopted; every running
// record's PID 1 is alive and is that container's; and no container process runs that no
// record accounts for (a start in flight at the kill is adopted or ended, never left behind).
import { expect } from 'chai';
import { pidfdOpen, waitPidfd, close } from '../../src/sys/libc.js';
import { allPids, cmdline, procStat } from '../../src/sys/proc.js';
import { TestDaemon, until } from '../support/daemon.js';

const COUNT = 1000;
const CONCURRENCY = 8;

interface Listed { Names: string[]; State: string; Command: string }

describe('daemon crash in a burst of starts', function () {
  const d = new TestDaemon();
  // Each container sleeps for a number of seconds that names it: `/bin/sleep <marker><i>`.
  const marker = `9${String(process.pid).padStart(7, '0')}`;
  const sleepers = (): Map<number, string> => {
    const out = new Map<number, string>();
    for (const pid of allPids()) {
      const c = cmdline(pid);
      if (c?.startsWith(`/bin/sleep ${marker}`) && procStat(pid)?.state !== 'Z') out.set(pid, c);
    }
    return out;
  };

  after(async () => {
    await d.destroy();
    // Whatever a failed check left running is ended by its pid; one re-parented here is reaped.
    for (const pid of sleepers().keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue;
      }
      if (procStat(pid)?.ppid !== process.pid) continue;
      const fd = pidfdOpen(pid);
      await until(() => waitPidfd(fd) !== null, `reaping ${pid}`);
      close(fd);
    }
  });

  it('a SIGKILL at a random point loses no running container and no record', async () => {
    const killAt = Number(process.env.SKIFF_CRASH_AT ?? 100 + Math.floor(Math.random() * (COUNT - 200)));
    process.stdout.write(`      (SIGKILL after ${killAt} answered starts; SKIFF_CRASH_AT=${killAt} replays it)\n`);
    await d.start();
    const created = new Set<string>();
    const started = new Set<string>();
    let killed = false;
    let next = 0;
    const kill = async () => {
      killed = true;
      await d.stop('SIGKILL');
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (!killed && next < COUNT) {
        const i = next++;
        const name = `burst-${i}`;
        try {
          const c = await d.api('POST', `/containers/create?name=${name}`, { Image: 'host', Cmd: ['/bin/sleep', `${marker}${i}`], HostConfig: { NetworkMode: 'none' } });
          if (c.status !== 201) throw new Error(`create ${name}: ${c.status} ${c.text}`);
          created.add(name);
          const s = await d.api('POST', `/containers/${name}/start`);
          if (s.status !== 204) throw new Error(`start ${name}: ${s.status} ${s.text}`);
          started.add(name);
          if (started.size === killAt && !killed) await kill();
        } catch (err) {
          if (!killed) throw err; // only the requests the kill cut short may fail
        }
      }
    }));
    expect(killed, 'the burst reached the kill').to.equal(true);

    await d.start();
    const list = (await d.api('GET', '/containers/json?all=1')).body as Listed[];
    const byName = new Map(list.map((c) => [c.Names[0]!.slice(1), c]));
    for (const name of created) expect(byName.has(name), `${name} was created (answered 201) before the kill`).to.equal(true);
    for (const name of started) expect(byName.get(name)?.State, `${name} was started (answered 204) before the kill`).to.equal('running');

    // Every record says the truth: a running one's PID 1 is alive and is its own sleeper; a
    // sleeper alive is some running record's PID 1.
    const alive = sleepers();
    const claimed = new Set<number>();
    for (const [name, c] of byName) {
      if (c.State !== 'running') continue;
      const pid = ((await d.api('GET', `/containers/${name}/json`)).body as { State: { Pid: number } }).State.Pid;
      expect(alive.get(pid), `${name}'s PID 1 (${pid})`).to.equal(`/bin/sleep ${marker}${name.slice('burst-'.length)}`);
      claimed.add(pid);
    }
    const unclaimed = [...alive].filter(([pid]) => !claimed.has(pid)).map(([pid, c]) => `${pid} ${c}`);
    expect(unclaimed, 'container processes no record accounts for').to.deep.equal([]);
  });
});
