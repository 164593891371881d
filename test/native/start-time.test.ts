// The launcher's reading of a launched PID 1's start time (launch.c's skiff_start_time): the
// same number /proc's TypeScript reader gives, also for a command name that holds spaces and
// parentheses, and null once the process has exited.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startTimeOf } from '../../src/native/launch.js';
import { procStat } from '../../src/sys/proc.js';
import { useTempDirs } from '../support/tmp.js';

/** Resolves once the child has exited and been reaped (its pid is gone from /proc). */
function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('native: a process\'s start time', () => {
  const tmp = useTempDirs();

  it('is /proc/<pid>/stat\'s field 22, as src/sys/proc.ts reads it', () => {
    const t = startTimeOf(process.pid);
    expect(t).to.be.a('number').and.to.be.greaterThan(0);
    expect(t).to.equal(procStat('self')!.startTime);
  });

  it('counts fields from the last `)`: a command named `a) b (c` reads the same', async () => {
    // The kernel takes the command name from the file executed: a link of that name to sleep.
    const link = join(tmp.make('start-time'), 'a) b (c');
    symlinkSync('/bin/sleep', link);
    const child = spawn(link, ['30'], { stdio: 'ignore' });
    try {
      await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
      const stat = procStat(child.pid!);
      expect(stat).to.not.equal(null);
      expect(startTimeOf(child.pid!)).to.equal(stat!.startTime);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
  });

  it('is null once the process has exited', async () => {
    const child = spawn('/bin/true', [], { stdio: 'ignore' });
    const pid = child.pid!;
    await exited(child);
    expect(startTimeOf(pid)).to.equal(null);
  });
});
