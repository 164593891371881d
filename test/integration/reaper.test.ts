// The reaper (src/main/lifecycle/reaper.ts): a child's exit is reaped on its SIGCHLD from an
// epoll set polled on the main thread; a child that has exited before it is watched is reaped
// at once; a process that is not this process's child sends no SIGCHLD, and its exit is still
// seen (the pool thread's epoll set), as "unknown" since its own parent reaps it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { Reaper, type ExitStatus } from '../../src/main/lifecycle/reaper.js';
import { isZombie } from '../../src/sys/proc.js';
import { STALL_MS, unlessStalled, until } from '../support/wait.js';

/**
 * The pid a shell printed (of a process it put in the background). Its 'exit' is to be listened
 * for before this is awaited: Node may emit a child's exit before the data it wrote last.
 */
async function printedPid(sh: ChildProcess): Promise<number> {
  const [line] = await once(sh.stdout!, 'data') as [Buffer];
  return Number(line.toString().trim());
}

/** Ends the read on fd 3 of a shell's background process (its stdin would be /dev/null). */
function release(sh: ChildProcess): void {
  (sh.stdio[3] as NodeJS.WritableStream).end();
}

describe('the reaper: children on SIGCHLD, others through the pool thread', function () {
  this.timeout(60_000);
  let reaper: Reaper;
  const started: ChildProcess[] = [];

  beforeEach(() => { reaper = new Reaper(); });
  afterEach(() => {
    reaper.close();
    for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });

  it('a child that exits while watched: its status, with no other process to reap it', async () => {
    // A shell's background process, re-parented to this process (the subreaper) once the shell
    // has exited: nobody else's child, as a container's PID 1 is skiffd's.
    const sh = spawn('/bin/sh', ['-c', '(read _ <&3; exit 7) & echo $!'], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    started.push(sh);
    const shExited = once(sh, 'exit'); // listened for first: the shell's exit may come before its output
    const pid = await printedPid(sh);
    await shExited;
    const w = reaper.watch(pid);
    release(sh);
    const st: ExitStatus = await unlessStalled(w.exited, STALL_MS, `the exit of pid ${pid}`);
    expect(st).to.deep.include({ exitCode: 7, signal: null });
    expect(st.unknown).to.equal(undefined);
  });

  it('a child that has exited before it is watched is reaped at once', async () => {
    // It exits only after the shell has (which would reap it otherwise): our child then.
    const sh = spawn('/bin/sh', ['-c', '(read _ <&3; exit 5) & echo $!'], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    started.push(sh);
    const shExited = once(sh, 'exit');
    const pid = await printedPid(sh);
    await shExited;
    release(sh);
    // Our zombie now, or in a moment.
    await until(() => isZombie(pid), `pid ${pid} to become a zombie`);
    const st = await unlessStalled(reaper.watch(pid).exited, STALL_MS, `the exit of pid ${pid}`);
    expect(st).to.deep.include({ exitCode: 5, signal: null });
  });

  it('a process that is not this one\'s child: its exit is seen, as unknown (its parent reaps it)', async () => {
    // The shell, our child, waits for its background process: that one is the shell's child, not ours.
    const sh = spawn('/bin/sh', ['-c', '(read _ <&3) & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    started.push(sh);
    const shExited = once(sh, 'exit'); // it may exit before the reaper's pool thread reports its child's exit
    const pid = await printedPid(sh);
    const w = reaper.watch(pid);
    release(sh);
    const st = await unlessStalled(w.exited, STALL_MS, `the exit of pid ${pid}`);
    expect(st.unknown).to.equal(true);
    await shExited;
  });
});
