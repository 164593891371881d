// The small shared pieces: the percentile every report uses, the exhaustiveness check every
// protocol switch ends in, and the /proc readers, on this test process and a real child.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { percentile } from '../../src/api/stats.js';
import { UnexpectedValueError, unreachable } from '../../src/api/unreachable.js';
import {
  childPids, cmdline, cpuSeconds, fdCount, fdTargets, isZombie, liveStartTime, mountinfoLines, procStat, statusField, statusKiB,
} from '../../src/sys/proc.js';

describe('percentile (nearest rank)', () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it('is the smallest value with at least p % of the values at or below it', () => {
    expect([percentile(xs, 50), percentile(xs, 90), percentile(xs, 99), percentile(xs, 100), percentile(xs, 1)]).to.deep.equal([5, 9, 10, 10, 1]);
    expect(percentile([7], 50)).to.equal(7);
    expect(percentile([1, 2, 3], 50)).to.equal(2);
  });
  it('is NaN for no values, and refuses a p outside (0, 100]', () => {
    expect(Number.isNaN(percentile([], 50))).to.equal(true);
    expect(() => percentile(xs, 0)).to.throw(RangeError, 'percentile: p must be in (0, 100], got 0');
    expect(() => percentile(xs, 150)).to.throw(RangeError, 'got 150');
  });
});

describe('unreachable', () => {
  it('names the switch and shows what came', () => {
    const bad = { type: 'stop', id: 7, big: 1n } as never;
    expect(() => unreachable(bad, 'launcher IPC: message from skiffd')).to.throw(UnexpectedValueError,
      'launcher IPC: message from skiffd: unexpected {"type":"stop","id":7,"big":"1n"}');
  });
  it('cuts a long value and survives a circular one', () => {
    const circular: { self?: unknown } = {};
    circular.self = circular;
    expect(() => unreachable(circular as never, 'x')).to.throw('x: unexpected [object Object]');
    const err = (() => { try { unreachable('y'.repeat(1000) as never, 'x'); } catch (e) { return e as Error; } })();
    expect(err.message.length).to.be.lessThan(220);
    expect(err.message.endsWith('…')).to.equal(true);
  });
});

describe('/proc readers (src/sys/proc.ts)', () => {
  it('read this process: its parent, start time, status fields, fds, mounts and command line', () => {
    const st = procStat('self')!;
    expect(st.ppid).to.equal(process.ppid);
    expect(st.state).to.equal('R');
    expect(liveStartTime(process.pid)).to.equal(st.startTime);
    expect(statusField(process.pid, 'PPid')).to.equal(String(process.ppid));
    expect(statusField(process.pid, 'Pid')).to.equal(String(process.pid));
    expect(statusKiB('self', 'VmRSS')).to.be.greaterThan(0);
    expect(statusField('self', 'NoSuchField')).to.equal(null);
    expect(cmdline('self')!.split(' ')[0]).to.match(/node/);
    const fds = fdTargets('self');
    expect(fds.map((f) => f.fd).slice(0, 3)).to.deep.equal([0, 1, 2]);
    expect(fdCount('self')).to.be.at.least(fds.length - 1);
    expect(mountinfoLines('self')!.some((l) => l.split(' ')[4] === '/')).to.equal(true);
    expect(cpuSeconds('self', false)).to.be.greaterThan(0);
  });

  it('follow a child while it runs, and find nothing once it is reaped', async () => {
    // `read` blocks on its stdin pipe until the test closes it: no sleep decides the order.
    const child = spawn('/bin/sh', ['-c', 'read line; exit 3'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const pid = child.pid!;
    try {
      expect(childPids(process.pid)).to.include(pid);
      expect(procStat(pid)!.ppid).to.equal(process.pid);
      expect(cmdline(pid)).to.equal('/bin/sh -c read line; exit 3');
      expect(isZombie(pid)).to.equal(false);
      expect(liveStartTime(pid)).to.be.a('number');
    } finally {
      child.stdin.end();
    }
    await once(child, 'exit');
    // Node has reaped it: gone for every reader.
    expect([procStat(pid), liveStartTime(pid), cmdline(pid), statusField(pid, 'PPid'), fdCount(pid), mountinfoLines(pid)]).to.deep.equal([null, null, null, null, null, null]);
    expect(isZombie(pid)).to.equal(false);
    expect(fdTargets(pid)).to.deep.equal([]);
    expect(childPids(process.pid)).not.to.include(pid);
  });
});
