// The console keeper: every container's stdio keeps its reader when skiffd dies. One container
// writes a line every 10 ms to its stdout pipe, another to its TTY; skiffd is SIGKILLed, and
// while it is down both go on (each also counts in a file outside, which the test reads). After
// the restart `docker logs` shows one unbroken count from before the crash to after it, and
// `docker attach` shows live lines. A normal stop and restart keeps them the same way. The
// keeper is one process for all containers, and it ends once nothing is left to keep.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { requireDocker, TestDaemon, withDaemon } from '../support/daemon.js';
import { encodeFrame, FrameDecoder, KEEPER_PROTOCOL } from '../../src/forwarder/wire.js';
import { until } from '../support/wait.js';
import { cmdline, childPids, isZombie } from '../../src/sys/proc.js';

/**
 * A writer that counts: `<tag> N` every 10 ms on stdout, and N in /mnt/<tag> for the test to
 * watch. The loop runs in a subshell, not as PID 1: the kernel never gives a namespace's init
 * a signal it has not set a handler for, so only a child would die of SIGPIPE, as a real
 * program does.
 */
const writer = (tag: string) => `(i=0; while true; do i=$((i+1)); echo "${tag} $i"; echo $i > /mnt/${tag}.tmp; mv /mnt/${tag}.tmp /mnt/${tag}; sleep 0.01; done); exit 3`;

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !isZombie(pid);
}

/** Says hello to a keeper as skiffd would (for one of its forwarder threads, with `thread`): its first answer. */
function hello(path: string, protocol: number, thread?: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const decoder = new FrameDecoder('keeper → test');
    sock.on('data', (b: Buffer) => decoder.push(b, (m) => { sock.destroy(); resolve(m); }));
    sock.on('error', reject);
    sock.write(encodeFrame(thread === undefined ? { hello: protocol } : { hello: protocol, thread }));
  });
}

/** The counts a log shows, in order. */
function counts(text: string, tag: string): number[] {
  return [...text.matchAll(new RegExp(`${tag} (\\d+)`, 'g'))].map((m) => Number(m[1]));
}

/** Every count from the first to the last, each once, in order: nothing lost or doubled. */
function unbroken(ns: number[]): boolean {
  return ns.length > 0 && ns.every((n, i) => i === 0 || n === ns[i - 1]! + 1);
}

describe('the console keeper: containers keep their stdio across a skiffd crash', function () {
  this.timeout(180_000);
  before(requireDocker);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'skiff-keeper-test-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const counted = (tag: string) => {
    try {
      return Number(readFileSync(join(dir, tag), 'utf8'));
    } catch {
      return 0;
    }
  };

  it('skiffd SIGKILLed (then stopped) while a pipe and a TTY container write: both go on, logs and attach show before and after', async () => {
    const d = new TestDaemon();
    let keeper = -1;
    const pids = { piped: -1, typed: -1 };
    try {
      await d.start();
      for (const [name, tty] of [['piped', false], ['typed', true]] as const) {
        const r = await d.cli(['run', '-d', ...(tty ? ['-t'] : []), '--name', name, '--mount', `${dir}:/mnt`, '--', '/bin/sh', '-c', writer(name)]);
        expect(r.code, r.stderr).to.equal(0);
      }
      for (const name of ['piped', 'typed'] as const) pids[name] = (await d.inspect(name)).State.Pid;
      await until(() => counted('piped') > 20 && counted('typed') > 20, 'both containers to count past 20');
      const lockPath = join(d.stateDir, '.skiffd/keeper.lock');
      keeper = existsSync(lockPath) ? Number(readFileSync(lockPath, 'utf8')) : -1;
      // One keeper for all containers, a child of skiffd beside its launchers, and named so.
      const keeperBefore = { name: cmdline(keeper), child: childPids(d.pid).includes(keeper) };

      for (const how of ['SIGKILL', 'SIGTERM'] as const) {
        await d.stop(how);
        // skiffd is down: both go on writing (neither killed by SIGPIPE nor blocked on a full pipe).
        const at = { piped: counted('piped'), typed: counted('typed') };
        await until(() => counted('piped') > at.piped + 100 && counted('typed') > at.typed + 100, `both containers to count 100 more with skiffd down (after ${how})`);
        expect(keeperBefore).to.deep.equal({ name: 'skiff-keeper', child: true });
        expect(alive(keeper), 'the keeper').to.equal(true);
        await d.start();
        expect(readFileSync(join(d.stateDir, '.skiffd/keeper.lock'), 'utf8').trim()).to.equal(String(keeper));
        for (const name of ['piped', 'typed'] as const) {
          const s = await d.inspect(name);
          expect([s.State.Status, s.State.Pid], name).to.deep.equal(['running', pids[name]]);
          // Written after the restart, then shown with all before it.
          const after = counted(name) + 10;
          await until(() => counted(name) > after, `${name} to count on after the restart`);
          const logs = await d.docker(['logs', name]);
          expect(logs.code, logs.stderr).to.equal(0);
          const ns = counts(logs.stdout, name);
          expect(unbroken(ns), `${name}: docker logs shows an unbroken count (${ns.slice(0, 3).join(',')}…${ns.slice(-3).join(',')})`).to.equal(true);
          expect(ns[0], `${name}: its first line is still in the ring`).to.equal(1);
          expect(ns.at(-1)!, `${name}: lines written after the restart`).to.be.at.least(after);
        }
      }

      // docker attach: live lines, for both.
      for (const name of ['piped', 'typed']) {
        const child = spawn('docker', ['attach', '--no-stdin', name], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
        const from = counted(name);
        try {
          await until(() => counts(out, name).some((n) => n > from + 5), `docker attach ${name} to show live lines`);
        } finally {
          child.kill('SIGKILL');
        }
      }

      // Adopted containers stop as before; then nothing is left to keep, and the keeper ends with skiffd.
      for (const name of ['piped', 'typed']) {
        const rm = await d.docker(['rm', '-f', name]);
        expect(rm.code, rm.stderr).to.equal(0);
        expect(alive(pids[name as 'piped' | 'typed'])).to.equal(false);
      }
      await d.stop();
      await until(() => !alive(keeper), 'the keeper to end once nothing is left to keep and skiffd has gone');
    } finally {
      // A failure with skiffd down: a new one adopts the containers, so that destroy() removes them (cgroups too).
      if (d.child !== null && (d.child.exitCode !== null || d.child.signalCode !== null)) await d.start().catch(() => undefined);
      await d.destroy();
      for (const pid of Object.values(pids)) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
      if (keeper > 0 && alive(keeper) && cmdline(keeper) === 'skiff-keeper') process.kill(keeper, 'SIGKILL');
    }
  });

  it('skiffd killed while a container runs: the keeper stays for it, and ends once it has exited', async () => {
    const d = new TestDaemon();
    let keeper = -1;
    let pid = -1;
    try {
      await d.start();
      const r = await d.cli(['run', '-d', '--name', 'last', '--', '/bin/sleep', '1000']);
      expect(r.code, r.stderr).to.equal(0);
      pid = (await d.inspect('last')).State.Pid;
      keeper = Number(readFileSync(join(d.stateDir, '.skiffd/keeper.lock'), 'utf8'));
      await d.stop('SIGKILL');
      // The keeper learns of the console's end from its thread, which skiffd no longer answers on.
      process.kill(pid, 'SIGKILL');
      await until(() => !alive(keeper), 'the keeper to end once its last container has exited and skiffd has gone');
    } finally {
      if (d.child !== null && (d.child.exitCode !== null || d.child.signalCode !== null)) await d.start().catch(() => undefined);
      await d.destroy();
      if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
      if (keeper > 0 && alive(keeper) && cmdline(keeper) === 'skiff-keeper') process.kill(keeper, 'SIGKILL');
    }
  });

  it('the keeper killed between a container\'s create and its start: the start opens a fresh console through a new keeper, whose output the container has', async () => {
    await withDaemon([], async (d) => {
      const lockPath = join(d.stateDir, '.skiffd/keeper.lock');
      for (const [name, tty] of [['piped', false], ['typed', true]] as const) {
        const made = await d.api('POST', `/containers/create?name=${name}`, { Image: 'host', Tty: tty, Cmd: ['/bin/echo', `${name} after the keeper`] });
        expect(made.status, made.text).to.equal(201);
        // The console's open has landed in the keeper (an inspect waits for it): its ends are the keeper's.
        expect((await d.inspect(name)).State.Status).to.equal('created');
      }
      const keeper = Number(readFileSync(lockPath, 'utf8'));
      process.kill(keeper, 'SIGKILL');
      await until(() => d.log().includes(`the keeper (pid ${keeper}) has gone`), 'skiffd to report the lost keeper');
      for (const name of ['piped', 'typed']) {
        const start = await d.api('POST', `/containers/${name}/start`);
        expect(start.status, start.text).to.equal(204);
        const waited = await d.api('POST', `/containers/${name}/wait`);
        expect((JSON.parse(waited.text) as { StatusCode: number }).StatusCode, waited.text).to.equal(0);
        const logs = await d.cli(['logs', name]);
        expect(logs.stdout.replace(/\r/g, ''), logs.stderr).to.equal(`${name} after the keeper\n`);
      }
      expect(Number(readFileSync(lockPath, 'utf8'))).to.not.equal(keeper);
      const rm = await d.docker(['rm', 'piped', 'typed']);
      expect(rm.code, rm.stderr).to.equal(0);
    });
  });

  it('the keeper refuses another protocol, a second skiffd and a stranger\'s connection for a thread; killed, skiffd says so and starts a new one with the next console', async () => {
    await withDaemon([], async (d) => {
      const lockPath = join(d.stateDir, '.skiffd/keeper.lock');
      const sockPath = join(d.stateDir, '.skiffd/keeper.sock');
      const r = await d.cli(['run', '-d', '--name', 'quiet', '--', '/bin/sleep', '1000']);
      expect(r.code, r.stderr).to.equal(0);
      const first = Number(readFileSync(lockPath, 'utf8'));
      expect(await hello(sockPath, KEEPER_PROTOCOL)).to.deep.equal({ refused: 'another skiffd is connected to this keeper' });
      // A forwarder thread reads a connection of its own only from the skiffd connected: not another process's.
      expect(await hello(sockPath, KEEPER_PROTOCOL, 0)).to.deep.equal({ refused: 'a forwarder thread takes a connection only from the skiffd connected to this keeper' });
      // skiffd stopped: the keeper stays for the running container, and still refuses a stranger's protocol.
      await d.stop();
      expect(await hello(sockPath, KEEPER_PROTOCOL + 1)).to.deep.equal({ refused: `keeper protocol ${KEEPER_PROTOCOL}, skiffd speaks ${KEEPER_PROTOCOL + 1}` });
      await d.start();
      expect(alive(first)).to.equal(true);

      process.kill(first, 'SIGKILL');
      await until(() => d.log().includes(`the keeper (pid ${first}) has gone: every console it held is lost; a new keeper starts with the next console`), 'skiffd to report the lost keeper');
      const run = await d.cli(['run', '--name', 'after', '--', '/bin/echo', 'through a new keeper']);
      expect([run.code, run.stdout], run.stderr).to.deep.equal([0, 'through a new keeper\n']);
      const second = Number(readFileSync(lockPath, 'utf8'));
      expect(second).to.not.equal(first);
      expect(cmdline(second)).to.equal('skiff-keeper');
      const rm = await d.docker(['rm', '-f', 'quiet', 'after']);
      expect(rm.code, rm.stderr).to.equal(0);
      await d.stop();
      await until(() => !alive(second), 'the new keeper to end with skiffd');
    });
  });
});
