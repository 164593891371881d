// The global set-up's sweep (test/support/cgroup-sweep.ts) on the real hierarchies: a killed
// run's parent, as a SIGKILLed TestDaemon's skiffd leaves it (spares named with its pid), goes;
// a cgroup of it that still holds a process is left (the kernel refuses its rmdir), and so is
// the process.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { sweepStaleTestCgroups } from '../support/cgroup-sweep.js';

const CG = '/sys/fs/cgroup';

describe('the sweep of a killed test run\'s cgroups, on the real hierarchies', () => {
  // A pid above pid_max: certainly not alive, as a killed run's test process and skiffd are not.
  const dead = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
  const name = `skiff-test-skiff-test-daemon-${dead}-Sw${randomBytes(3).toString('hex')}`;
  const hierarchies = ['memory', 'pids'].filter((h) => existsSync(`${CG}/${h}/cgroup.procs`));
  let sleeper: ReturnType<typeof spawn> | null = null;

  before(function () {
    if (hierarchies.length === 0) this.skip(); // a v2-only host: the unit test covers that layout
  });

  after(async () => {
    if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null) {
      const exited = new Promise((r) => sleeper!.once('exit', r));
      sleeper.kill('SIGKILL');
      await exited;
    }
    for (const h of hierarchies) {
      for (const d of [`${CG}/${h}/${name}/busy`, `${CG}/${h}/${name}/.spare-m${dead}-0`, `${CG}/${h}/${name}`]) {
        try {
          rmdirSync(d);
        } catch {
          // gone (swept)
        }
      }
    }
  });

  it('the empty cgroups go; the one holding a process stays, with its process', async () => {
    for (const h of hierarchies) mkdirSync(`${CG}/${h}/${name}/.spare-m${dead}-0`, { recursive: true });
    const busy = `${CG}/${hierarchies[0]}/${name}/busy`;
    mkdirSync(busy);
    sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
    await new Promise((r) => sleeper!.once('spawn', r));
    writeFileSync(`${busy}/cgroup.procs`, String(sleeper.pid));

    const removed = sweepStaleTestCgroups();

    for (const h of hierarchies) expect(existsSync(`${CG}/${h}/${name}/.spare-m${dead}-0`), `${h} spare`).to.equal(false);
    for (const h of hierarchies.slice(1)) expect(existsSync(`${CG}/${h}/${name}`), `${h} parent`).to.equal(false);
    expect(existsSync(busy), 'the cgroup with a process').to.equal(true);
    expect(readFileSync(`${busy}/cgroup.procs`, 'utf8').trim()).to.equal(String(sleeper.pid));
    expect(sleeper.exitCode, 'the process untouched').to.equal(null);
    expect(removed).to.include(`${CG}/${hierarchies[0]}/${name}/.spare-m${dead}-0`);
  });
});
