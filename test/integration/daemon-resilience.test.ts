// skiffd under failure: a launcher killed mid-start, skiffd itself killed and restarted,
// and 200 containers at once (no zombies, no leftover mounts, nothing extra in ps).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { withDaemon, type TestDaemon } from '../support/daemon.js';
import { until } from '../support/wait.js';
import { pidfdOpen, waitPidfd, close } from '../../src/sys/libc.js';

interface Inspect { State: { Status: string; Pid: number; ExitCode: number; Running: boolean; Error: string }; Skiff: { Status: string } }

function ppid(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  } catch {
    return -1;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

const mountCount = () => readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').length;

describe('skiffd resilience', function () {
  this.timeout(120_000);

  it('a launcher killed mid-start: that start fails clearly, the pool is refilled, the next start succeeds', async () => {
    await withDaemon(['--launchers', '1'], async (d) => {
      const launcher = await until(() => require_launchers(d)[0], 'the launcher');
      await d.api('POST', '/containers/create?name=victim', { Image: 'host', Cmd: ['/bin/true'] });
      // Freeze the only launcher so the start is handed to it and stays in flight, then kill it.
      process.kill(launcher, 'SIGSTOP');
      const start = d.api('POST', '/containers/victim/start');
      await until(async () => ((await d.api('GET', '/containers/victim/json')).body as Inspect).Skiff.Status === 'starting', 'starting');
      process.kill(launcher, 'SIGKILL');
      const reply = await start;
      expect(reply.status).to.equal(500);
      expect((reply.body as { message: string }).message).to.equal('launcher worker 0 was killed by SIGKILL during the start; the start was not retried');
      const fresh: number = await until(() => require_launchers(d).find((p) => p !== launcher), 'a new launcher');
      expect(cmdline(fresh)).to.equal('skiff-launcher 0');
      const metrics = (await d.api('GET', '/metrics')).text;
      expect(metrics).to.include('skiff_launcher_restarts_total 1');
      const next = await d.cli(['run', '--name', 'after', '--', '/bin/sh', '-c', 'exit 5']);
      expect(next.code, next.stderr).to.equal(5);
    });
  });

  it('skiffd killed with SIGKILL kills no container; after a restart they are accounted for', async () => {
    const orphans: number[] = [];
    try {
      await withDaemon([], async (d) => {
        await d.cli(['run', '-d', '--name', 'survivor', '--', '/bin/sleep', '1000']);
        await d.cli(['run', '-d', '--name', 'shortlived', '--', '/bin/sleep', '1000']);
        const survivor = ((await d.api('GET', '/containers/survivor/json')).body as Inspect).State.Pid;
        const short = ((await d.api('GET', '/containers/shortlived/json')).body as Inspect).State.Pid;
        orphans.push(survivor, short);
        await d.stop('SIGKILL');
        expect(cmdline(survivor)).to.equal('/bin/sleep 1000'); // still alive
        // The other one ends while skiffd is down (killed here, by its pid, so that it surely does).
        process.kill(short, 'SIGKILL');
        await until(() => ppid(short) !== d.pid && (cmdline(short) === '' || readFileSync(`/proc/${short}/stat`, 'utf8').includes(') Z')), 'short-lived container to end');
        await d.start();
        const s = (await d.api('GET', '/containers/survivor/json')).body as Inspect;
        expect(s.State.Status).to.equal('running');
        expect(s.State.Pid).to.equal(survivor);
        const e = (await d.api('GET', '/containers/shortlived/json')).body as Inspect;
        expect(e.State.Status).to.equal('exited');
        expect(e.State.Error).to.equal('status unknown (daemon was down)');
        // Stop works on the adopted container.
        const stop = await d.cli(['stop', '--time', '1', 'survivor']);
        expect(stop.code, stop.stderr).to.equal(0);
        const after = (await d.api('GET', '/containers/survivor/json')).body as Inspect;
        expect(after.State.Status).to.equal('exited');
        expect(cmdline(survivor)).to.satisfy((c: string) => c === '' || readFileSync(`/proc/${survivor}/stat`, 'utf8').includes(') Z'));
      });
    } finally {
      // The orphans were re-parented to the nearest subreaper: if that is this test process, reap them.
      for (const pid of orphans) {
        if (ppid(pid) !== process.pid) continue;
        const fd = pidfdOpen(pid);
        await until(() => waitPidfd(fd) !== null, `reaping ${pid}`);
        close(fd);
      }
    }
  });

  it('200 containers at once: all running as skiffd\'s children; ps shows nothing extra; stopping leaves no zombie or mount', async () => {
    await withDaemon([], async (d) => {
      const mountsBefore = mountCount();
      const names = Array.from({ length: 200 }, (_, i) => `many-${i}`);
      const created = await Promise.all(names.map((n) => d.api('POST', `/containers/create?name=${n}`, { Image: 'host', Cmd: ['/bin/sleep', '1000'] })));
      expect(created.every((r) => r.status === 201)).to.equal(true);
      const started = await Promise.all(names.map((n) => d.api('POST', `/containers/${n}/start`)));
      expect(started.map((r) => r.status)).to.deep.equal(names.map(() => 204));
      const list = (await d.api('GET', '/containers/json')).body as { Names: string[]; Pid: number }[];
      expect(list).to.have.length(200);
      for (const c of list) expect(ppid(c.Pid), c.Names[0]).to.equal(d.pid);
      const ps = await d.cli(['ps']);
      expect(ps.stdout.trim().split('\n')).to.have.length(201);

      // ps -eo pid,args: skiffd, its launchers, one console keeper for all, and each container's own init — nothing else of skiff's.
      const mine = new Set([d.pid, ...list.map((c) => c.Pid)]);
      const descendants = allDescendants(d.pid);
      const extra = descendants.filter((p) => !mine.has(p)).map((p) => cmdline(p));
      expect(extra.filter((a) => a === 'skiff-keeper'), 'console keepers').to.have.length(1);
      expect(extra.every((a) => /^skiff-launcher \d+$/.test(a) || a === 'skiff-keeper'), extra.join(', ')).to.equal(true);
      expect(cmdline(d.pid)).to.equal('skiffd');
      for (const c of list.slice(0, 5)) expect(cmdline(c.Pid)).to.equal('/bin/sleep 1000');

      await Promise.all(names.map((n) => d.api('POST', `/containers/${n}/kill`)));
      await Promise.all(names.map((n) => d.api('POST', `/containers/${n}/wait`)));
      expect(d.zombies()).to.deep.equal([]);
      expect(d.children()).to.deep.equal([]);
      expect(mountCount()).to.equal(mountsBefore);
    });
  });
});

function require_launchers(d: TestDaemon): number[] {
  return (readFileSync(`/proc/${d.pid}/task/${d.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
    .filter((p) => d.isLauncher(p));
}

function allDescendants(root: number): number[] {
  const out: number[] = [];
  const walk = (pid: number) => {
    let kids: number[] = [];
    try {
      for (const t of (readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean))) kids.push(Number(t));
    } catch {
      kids = [];
    }
    for (const k of kids) {
      out.push(k);
      walk(k);
    }
  };
  walk(root);
  return out;
}
