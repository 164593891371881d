// A benchmark told to stop (SIGTERM, as `timeout` sends; a terminal's SIGINT the same) ends the
// step in hand and removes what it made, then exits with 128 + the signal: `skiff bench` against
// a test skiffd (its containers, its /tmp/skiff-bench-* directory), and a bench script with a
// skiffd of its own (that skiffd, its cgroups, its directory). Before, the signal's default
// action skipped every finally block and left all of them.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { request } from '../../src/api/http-client.js';
import { until, useDaemon } from '../support/daemon.js';
import { useTempDirs } from '../support/tmp.js';
import { hierarchies, subdirs } from '../support/cgroup-sweep.js';
import { childPids } from '../../src/sys/proc.js';

const ROOT = join(import.meta.dirname, '../..');

/** A child's stderr so far and its exit status (128 + n for a signal n, as a shell says). */
function watch(child: ChildProcess): { stderr: () => string; status: Promise<number> } {
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const status = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + constants.signals[signal!])));
  return { stderr: () => stderr, status };
}

/** The directories of a cgroup of this name, in every hierarchy it exists in. */
const cgroupLeft = (name: string): string[] => hierarchies('/sys/fs/cgroup').map((h) => join(h, name)).filter((p) => existsSync(p));

describe('benchmarks stopped by a signal clean up', function () {
  this.timeout(120_000);
  const d = useDaemon();
  const tmp = useTempDirs();

  it('skiff bench, SIGTERM mid-row: exit 143, the row\'s containers removed, its directory gone', async () => {
    const dir = tmp.make('bench-stop');
    // --lifecycle start leaves each container for the bench to remove; the row is far too long to end by itself.
    const child = spawn(process.execPath, [join(ROOT, 'bin/skiff.js'), 'bench', '--count', '100000', '--concurrency', '2', '--serial', '0', '--warmup', '0', '--lifecycle', 'start'],
      { env: { ...d.env, TMPDIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
    const w = watch(child);
    try {
      await until(async () => ((await d.api('GET', '/containers/json?all=1')).body as unknown[]).length >= 4, 'the bench\'s containers');
      expect(readdirSync(dir).filter((n) => n.startsWith('skiff-bench-'))).to.have.length(1);
      child.kill('SIGTERM');
      expect(await w.status, w.stderr()).to.equal(143);
      expect(w.stderr()).to.include('skiff bench: stopped by SIGTERM; its containers and files removed');
      expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
      expect(readdirSync(dir)).to.deep.equal([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await w.status;
    }
  });

  it('a bench script with a skiffd of its own (bench/exec, as built), SIGINT mid-round: exit 130, its skiffd ended, its cgroups and directory gone', async () => {
    const dir = tmp.make('bench-script-stop');
    const child = spawn(process.execPath, [join(ROOT, 'dist/bench/exec.js'), '--count', '100000'], { env: { ...process.env, TMPDIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
    const w = watch(child);
    let socket: string | null = null;
    let skiffd = 0;
    try {
      // Its skiffd answers and its container runs: the rounds have begun.
      const work = await until(() => readdirSync(dir).find((n) => n.startsWith('skiff-bench-exec-')), 'the bench\'s directory');
      socket = join(dir, work, 'skiff.sock');
      await until(() => w.stderr().includes('skiffd listening'), 'the bench\'s skiffd');
      skiffd = await until(() => childPids(child.pid!).find((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'skiffd'), 'the bench\'s skiffd process');
      await until(async () => ((await request(socket!, 'GET', '/containers/web/json')).body as { State?: { Running?: boolean } }).State?.Running, 'the bench\'s container');
      child.kill('SIGINT');
      expect(await w.status, w.stderr()).to.equal(130);
      expect(w.stderr()).to.include('bench/exec: stopped by SIGINT; cleaned up');
      expect(existsSync(`/proc/${skiffd}`), `skiffd ${skiffd} still there`).to.equal(false);
      expect(cgroupLeft(`skiff-bench-exec-${child.pid}`)).to.deep.equal([]);
      expect(readdirSync(dir)).to.deep.equal([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await w.status;
      // A bench that failed to clean up must not leave its work to the next test: its container,
      // its skiffd (by pid) and its cgroups, undone here.
      if (skiffd > 0 && existsSync(`/proc/${skiffd}`)) {
        await request(socket!, 'DELETE', '/containers/web?force=1').catch(() => undefined);
        process.kill(skiffd, 'SIGTERM');
        await until(() => !existsSync(`/proc/${skiffd}`) || readFileSync(`/proc/${skiffd}/stat`, 'utf8').includes(') Z'), `the bench's skiffd ${skiffd} to end`);
      }
      for (const top of cgroupLeft(`skiff-bench-exec-${child.pid}`)) {
        for (const cg of [...subdirs(top), top]) {
          // What still runs in the bench's own cgroup is the bench's container: ended by pid.
          const pids = (): number[] => readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
          for (const pid of pids()) process.kill(pid, 'SIGKILL');
          await until(() => pids().length === 0, `${cg} to empty`);
          rmdirSync(cg);
        }
      }
    }
  });
});
