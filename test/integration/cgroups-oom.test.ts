// OOM kills reported as they happen (the kernel's notification: v1 memory.oom_control through an
// eventfd in cgroup.event_control, on this host for real), not only at the exit: a container
// whose child is the OOM killer's victim runs on, and says `oom` and OOMKilled meanwhile. One
// oom event per kill the cgroup's counter shows, none again at the exit; no fd of skiffd's left
// but those a spare memory cgroup keeps its watch with, which the next container takes.
import { expect } from 'chai';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { until, useDaemon } from '../support/daemon.js';
import { detectLayout } from '../../src/main/cgroups/layout.js';
import { oomKillCount } from '../../src/main/cgroups/oom-watch.js';
import { SPARE_PREFIX } from '../../src/main/cgroups/memcg-pool.js';

const layout = detectLayout();
const memoryRoot = layout.version === 2 ? layout.root : layout.v1.find((h) => h.controllers.includes('memory'))!.mount;

interface Inspect { Created: string; State: { Running: boolean; OOMKilled: boolean; ExitCode: number; FinishedAt: string } }

describe('cgroups: OOM kills reported live', function () {
  this.timeout(60_000);
  const d = useDaemon();
  const fds = (): number => readdirSync(`/proc/${d.pid}/fd`).length;
  /** skiffd's eventfds (libuv has its own, the reaper one; an OOM watch one per container) */
  const eventfds = (): number => readdirSync(`/proc/${d.pid}/fd`).filter((fd) => {
    try {
      return readFileSync(`/proc/${d.pid}/fdinfo/${fd}`, 'utf8').includes('eventfd-count');
    } catch {
      return false; // closed meanwhile
    }
  }).length;

  /** skiffd's fds open on a memory.oom_control of `name`'s cgroup (a v1 OOM watch keeps one while it lasts, to read the counter with one pread) */
  const oomControlFds = (name: string): number => readdirSync(`/proc/${d.pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${d.pid}/fd/${fd}`) === `${memoryRoot}/${d.cgroupParent}/${name}/memory.oom_control`;
    } catch {
      return false; // closed meanwhile
    }
  }).length;

  /** The spare memory cgroups of skiffd's parent (memcg-pool.ts): each keeps its last container's OOM watch. */
  const spares = (): string[] => {
    try {
      return readdirSync(`${memoryRoot}/${d.cgroupParent}`).filter((n) => n.startsWith(SPARE_PREFIX));
    } catch {
      return []; // no container yet: no parent level
    }
  };

  /** The container's events so far, by action. */
  const actions = async (name: string, since: string): Promise<string[]> => (await d.eventsSoFar({ container: [name] }, since)).map((e) => e.Action);
  const inspect = async (name: string): Promise<Inspect> => (await d.api('GET', `/containers/${name}/json`)).body as Inspect;

  /**
   * `docker run -d` of a container whose child is the OOM killer's victim while PID 1 lives on.
   * PID 1 is `sleep` from the start, so it allocates nothing once the hog is killed (a shell that
   * went on to exec after the kill raced the victim's uncharge: the CI saw such a container exit).
   * The hog's side raises its own oom_score_adj to 1000 (no privilege needed to raise it), so a
   * second kill, should the kernel need one, takes what is left of that side and never PID 1.
   */
  const runVictim = (name: string): string[] => ['run', '-d', '--name', name, '--memory', '32m',
    '-e', 'HOG=x=$(head -c 200000000 /dev/zero | tr "\\0" a)', '--', '/bin/sh', '-c',
    '(echo 1000 > /proc/self/oom_score_adj && sh -c "$HOG"; echo "child exit $?") & exec sleep 1000'];

  /** What a container's end says, for an assertion's message: its state and its output. */
  const story = async (name: string): Promise<string> => {
    const state = (await d.api('GET', `/containers/${name}/json`)).body as { State: unknown };
    const logs = (await d.api('GET', `/containers/${name}/logs?stdout=1&stderr=1`)).text;
    return `${name}: State ${JSON.stringify(state.State)}; output ${JSON.stringify(logs)}`;
  };

  it('a child killed by the OOM killer: an oom event while the container runs on, OOMKilled; one event per kill; the eventfd gone at the end or kept with the spare', async () => {
    const fdsBefore = fds();
    const eventfdsBefore = eventfds();
    const sparesBefore = spares().length;
    const r = await d.cli(runVictim('victim'));
    expect(r.code, r.stderr).to.equal(0);
    await d.waitForOutput('victim', 'child exit 137');
    const created = (await inspect('victim')).Created;
    await until(async () => (await actions('victim', created)).includes('oom'), 'the oom event');
    const running = await inspect('victim');
    expect(running.State, await story('victim')).to.include({ Running: true, OOMKilled: true });
    expect(eventfds()).to.equal(eventfdsBefore + 1);
    expect(oomControlFds('victim')).to.equal(1);
    // No die yet: the event came with the kill, not with the end.
    const kills = oomKillCount(readFileSync(`${memoryRoot}/${d.cgroupParent}/victim/memory.oom_control`, 'utf8'));
    expect(kills).to.be.greaterThan(0);
    await until(async () => (await actions('victim', created)).filter((a) => a === 'oom').length === kills, `${kills} oom events`);
    expect((await actions('victim', created)).filter((a) => a === 'oom' || a === 'die')).to.deep.equal(Array<string>(kills).fill('oom'));

    expect((await d.cli(['stop', '-t', '0', 'victim'])).code).to.equal(0);
    const ended = await inspect('victim');
    expect(ended.State).to.include({ Running: false, OOMKilled: true });
    // The exit reported no kill again.
    expect((await actions('victim', created)).filter((a) => a === 'oom' || a === 'die')).to.deep.equal([...Array<string>(kills).fill('oom'), 'die']);
    expect((await d.cli(['rm', 'victim'])).code).to.equal(0);
    // Its memory cgroup kept as a spare keeps the watch (an eventfd and the oom_control fd) for the next container; else both are closed.
    const kept = spares().length - sparesBefore;
    await until(() => fds() <= fdsBefore + 2 * kept, `skiffd's fds back to ${fdsBefore} (+ 2 for each of ${kept} new spares)`);
    expect(eventfds()).to.equal(eventfdsBefore + kept);
  });

  it('a spare\'s watch serves the next container: no registration made, its OOM kill still reported live', async () => {
    // A memory-limited container's cgroup, kept as a spare with its idle watch.
    expect((await d.cli(['run', '--name', 'prep', '--memory', '32m', '--', '/bin/true'])).code).to.equal(0);
    expect((await d.cli(['rm', 'prep'])).code).to.equal(0);
    expect(spares()).to.have.length.greaterThan(0);
    const eventfdsBefore = eventfds();
    const r = await d.cli(runVictim('victim2'));
    expect(r.code, r.stderr).to.equal(0);
    // It took the spare and its watch: no eventfd more.
    expect(eventfds()).to.equal(eventfdsBefore);
    await d.waitForOutput('victim2', 'child exit 137');
    const created = (await inspect('victim2')).Created;
    await until(async () => (await actions('victim2', created)).includes('oom'), 'the oom event through the reused watch');
    expect((await inspect('victim2')).State, await story('victim2')).to.include({ Running: true, OOMKilled: true });
    expect((await d.cli(['rm', '-f', 'victim2'])).code).to.equal(0);
    expect(eventfds()).to.be.at.most(eventfdsBefore);
  });

  it('a reused memory cgroup (a spare) shows nothing of its last container: limits, peaks and fail counts reset, its earlier OOM kills not the new one\'s', async () => {
    const hog = await d.cli(['run', '--name', 'hog', '--memory', '32m', '--', '/bin/sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a)']);
    expect(hog.code).to.equal(137);
    expect((await inspect('hog')).State.OOMKilled).to.equal(true);
    expect((await d.cli(['rm', 'hog'])).code).to.equal(0);
    expect(spares()).to.have.length.greaterThan(0);
    const before = spares().length;
    expect((await d.cli(['run', '-d', '--name', 'next', '--memory', '64m', '--', '/bin/sleep', '1000'])).code).to.equal(0);
    // It took a spare: the one that OOM-killed (the kernel keeps that count; skiffd counts from where it was).
    expect(spares()).to.have.length(before - 1);
    const file = (f: string): string => readFileSync(`${memoryRoot}/${d.cgroupParent}/next/${f}`, 'utf8').trim();
    expect(oomKillCount(file('memory.oom_control'))).to.be.greaterThan(0);
    expect(file('memory.limit_in_bytes')).to.equal(String(64 << 20));
    expect(file('memory.failcnt')).to.equal('0');
    expect(Number(file('memory.max_usage_in_bytes'))).to.be.lessThan(16 << 20);
    const created = (await inspect('next')).Created;
    expect((await d.cli(['stop', '-t', '0', 'next'])).code).to.equal(0);
    expect((await inspect('next')).State.OOMKilled).to.equal(false);
    expect(await actions('next', created)).not.to.include('oom');
    expect((await d.cli(['rm', 'next'])).code).to.equal(0);
  });

  it('a container without a memory limit gets no watch (no fd), and its run is not OOMKilled', async () => {
    const before = eventfds();
    expect((await d.cli(['run', '-d', '--name', 'free', '--', '/bin/sleep', '1000'])).code).to.equal(0);
    expect(eventfds()).to.equal(before);
    expect((await inspect('free')).State.OOMKilled).to.equal(false);
    expect((await d.cli(['rm', '-f', 'free'])).code).to.equal(0);
  });
});
