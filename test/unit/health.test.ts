// Health checks, the pure parts: the spec's healthcheck, the Docker API's Healthcheck (merged
// over an image's, nanoseconds, NONE), the rule that turns probe results into a status (start
// period, retries, the five-entry log, 4 KiB of output), and the timer wheel that schedules
// every probe (driven by a fake clock).
import { expect } from 'chai';
import { healthcheckFromDocker, dockerHealthcheck } from '../../src/main/docker/health.js';
import { CreateError } from '../../src/main/docker/fields.js';
import { applyProbe, newHealth, nextDelayMs, truncateUtf8, type ProbeOutcome } from '../../src/main/health/status.js';
import { SLOTS, TICK_MS, TimerWheel } from '../../src/main/health/wheel.js';
import { validateSpec, SpecError } from '../../src/spec/container.js';
import { probeArgv, validateHealthcheck, type HealthcheckSpec } from '../../src/spec/health.js';

const MS = 1_000_000;

function specError(fn: () => unknown, message: string): void {
  expect(fn).to.throw(SpecError).with.property('message', message);
}

function createError(fn: () => unknown, message: string): void {
  expect(fn).to.throw(CreateError).with.property('message', message);
}

describe('health checks', () => {
  describe('the spec', () => {
    it('fills in Docker\'s defaults and runs CMD-SHELL through /bin/sh -c', () => {
      const h = validateHealthcheck({ test: ['CMD-SHELL', 'test -e /tmp/ready'] })!;
      expect(h).to.deep.equal({ test: ['CMD-SHELL', 'test -e /tmp/ready'], intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0, startIntervalMs: 5_000 });
      expect(probeArgv(h)).to.deep.equal(['/bin/sh', '-c', 'test -e /tmp/ready']);
      expect(probeArgv({ ...h, test: ['CMD', '/bin/true', 'x'] })).to.deep.equal(['/bin/true', 'x']);
      expect(validateSpec({ name: 'a', command: ['/bin/true'] })).to.include({ healthcheck: null, restartOnUnhealthy: false });
    });

    it('refuses a Test of an unknown form, empty ones, NONE and bad durations, naming the field', () => {
      specError(() => validateHealthcheck({ test: ['CMDD', 'x'] }), 'healthcheck.test[0] must be CMD or CMD-SHELL (or NONE to disable an image\'s check), got "CMDD"');
      specError(() => validateHealthcheck({ test: [] }), 'healthcheck.test must not be empty: ["CMD", program, args...] or ["CMD-SHELL", command]');
      specError(() => validateHealthcheck({ test: ['CMD'] }), 'healthcheck.test CMD needs a program to run: ["CMD", program, args...]');
      specError(() => validateHealthcheck({ test: ['CMD-SHELL', 'a', 'b'] }), 'healthcheck.test CMD-SHELL takes one command string: ["CMD-SHELL", command], got 2 items after it');
      specError(() => validateHealthcheck({ test: ['CMD-SHELL', ' '] }), 'healthcheck.test[1] the command is empty');
      specError(() => validateHealthcheck({ test: ['NONE'] }), 'healthcheck.test[0] NONE means no health check; it cannot be combined with a check');
      specError(() => validateHealthcheck({ test: ['CMD', 'x'], intervalMs: -1 }), 'healthcheck.intervalMs must be a whole number of milliseconds from 1 to 2147483647, got -1');
      specError(() => validateHealthcheck({ test: ['CMD', 'x'], startPeriodMs: 1.5 }), 'healthcheck.startPeriodMs must be a whole number of milliseconds from 0 to 2147483647, got 1.5');
      specError(() => validateHealthcheck({ test: ['CMD', 'x'], retries: 0 }), 'healthcheck.retries must be a whole number from 1 to 2147483647, got 0');
      specError(() => validateHealthcheck({ test: ['CMD', 'x'], every: 1 }), 'healthcheck.every is not a known field (known: test, intervalMs, timeoutMs, retries, startPeriodMs, startIntervalMs)');
      specError(() => validateSpec({ name: 'a', command: ['x'], restartOnUnhealthy: true }), 'restartOnUnhealthy needs a health check (healthcheck) to act on');
    });
  });

  describe('the Docker API\'s Healthcheck', () => {
    it('turns nanoseconds into milliseconds and leaves 0 to the defaults', () => {
      const h = healthcheckFromDocker({ Test: ['CMD', '/bin/true'], Interval: 2000 * MS, Timeout: 0, Retries: 0, StartPeriod: 5 * MS }, undefined);
      expect(validateHealthcheck(h)).to.deep.equal({ test: ['CMD', '/bin/true'], intervalMs: 2000, timeoutMs: 30_000, retries: 3, startPeriodMs: 5, startIntervalMs: 5_000 });
      expect(dockerHealthcheck(validateHealthcheck(h))).to.deep.equal({
        Test: ['CMD', '/bin/true'], Interval: 2000 * MS, Timeout: 30_000 * MS, StartPeriod: 5 * MS, StartInterval: 5_000 * MS, Retries: 3,
      });
      expect(healthcheckFromDocker(null, undefined)).to.equal(null);
      expect(dockerHealthcheck(null)).to.equal(undefined);
    });

    it('merges over the image\'s check as moby does; NONE switches it off', () => {
      const image = { Test: ['CMD-SHELL', 'curl -f localhost'], Interval: 10_000 * MS, Retries: 7 };
      expect(healthcheckFromDocker(undefined, image)).to.deep.equal({ test: ['CMD-SHELL', 'curl -f localhost'], intervalMs: 10_000, retries: 7 });
      // the body's Test and Interval win; what it leaves at 0 comes from the image
      expect(healthcheckFromDocker({ Test: ['CMD', '/bin/true'], Interval: 1000 * MS }, image)).to.deep.equal({ test: ['CMD', '/bin/true'], intervalMs: 1000, retries: 7 });
      expect(healthcheckFromDocker({ Test: [], Timeout: 3000 * MS }, image)).to.deep.equal({ test: ['CMD-SHELL', 'curl -f localhost'], intervalMs: 10_000, timeoutMs: 3000, retries: 7 });
      expect(healthcheckFromDocker({ Test: ['NONE'] }, image)).to.equal(null);
      // settings without any Test anywhere: no check, as in Docker
      expect(healthcheckFromDocker({ Interval: 1000 * MS }, undefined)).to.equal(null);
    });

    it('refuses negative and sub-millisecond durations, negative retries and unknown Test forms, naming the field', () => {
      createError(() => healthcheckFromDocker({ Test: ['CMD', 'x'], Interval: -1 }, undefined), 'Healthcheck.Interval must not be negative, got -1');
      createError(() => healthcheckFromDocker({ Test: ['CMD', 'x'], Timeout: 999_999 }, undefined), 'Healthcheck.Timeout must be 0 (the default) or at least 1 ms (1000000 ns), got 999999');
      createError(() => healthcheckFromDocker({ Test: ['CMD', 'x'], StartPeriod: '1s' }, undefined), 'Healthcheck.StartPeriod must be a whole number of nanoseconds, got "1s"');
      createError(() => healthcheckFromDocker({ Test: ['CMD', 'x'], Retries: -2 }, undefined), 'Healthcheck.Retries must not be negative, got -2');
      createError(() => healthcheckFromDocker({ Test: ['SHELL', 'x'] }, undefined), 'Healthcheck.Test[0] must be CMD or CMD-SHELL (or NONE to disable an image\'s check), got "SHELL"');
      createError(() => healthcheckFromDocker({ Test: 'true' }, undefined), 'Healthcheck.Test must be a list of strings, got "true"');
      createError(() => healthcheckFromDocker([], undefined), 'Healthcheck must be an object, got []');
      createError(() => healthcheckFromDocker(undefined, { Test: ['CMD'] }), 'image config Healthcheck.Test CMD needs a program to run: ["CMD", program, args...]');
    });
  });

  describe('the status a probe leads to', () => {
    const h: HealthcheckSpec = { test: ['CMD', 'x'], intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 10_000, startIntervalMs: 200 };
    const at = (s: number, exitCode: number, output = '', timedOut = false): ProbeOutcome => ({ start: new Date(s * 1000), end: new Date(s * 1000 + 10), exitCode, output, timedOut });

    it('failures in the start period do not count; a success ends it; then retries in a row make it unhealthy', () => {
      const st = newHealth();
      expect(applyProbe(h, st, at(1, 1), 0)).to.equal(null);
      expect(applyProbe(h, st, at(2, 1), 0)).to.equal(null);
      expect(applyProbe(h, st, at(3, 1), 0)).to.equal(null);
      expect(st).to.include({ status: 'starting', failingStreak: 0 });
      expect(nextDelayMs(h, st, 0, 3000)).to.equal(200); // the start interval, while starting in the start period
      expect(applyProbe(h, st, at(4, 0), 0)).to.equal('healthy');
      expect(nextDelayMs(h, st, 0, 4010)).to.equal(1000); // a success ends the start period
      expect(applyProbe(h, st, at(5, 1), 0)).to.equal(null);
      expect(applyProbe(h, st, at(6, 2), 0)).to.equal(null);
      expect(st).to.include({ status: 'healthy', failingStreak: 2 });
      expect(applyProbe(h, st, at(7, 1), 0)).to.equal('unhealthy');
      expect(applyProbe(h, st, at(8, 1), 0)).to.equal(null);
      expect(st.failingStreak).to.equal(4);
      expect(applyProbe(h, st, at(9, 0), 0)).to.equal('healthy');
      expect(st.failingStreak).to.equal(0);
    });

    it('after the start period, failures count even before the first success', () => {
      const st = newHealth();
      for (const s of [11, 12]) expect(applyProbe(h, st, at(s, 1), 0)).to.equal(null);
      expect(applyProbe(h, st, at(13, 1), 0)).to.equal('unhealthy');
    });

    it('keeps the last five probes, a timeout as exit -1 with Docker\'s message, output cut at 4 KiB on a character', () => {
      const st = newHealth();
      for (let s = 11; s <= 16; s++) applyProbe(h, st, at(s, s), 0);
      applyProbe(h, st, at(17, 0, 'x', true), 0);
      expect(st.log.map((e) => e.exitCode)).to.deep.equal([13, 14, 15, 16, -1]);
      expect(st.log[4]).to.deep.equal({ start: new Date(17_000).toISOString(), end: new Date(17_010).toISOString(), exitCode: -1, output: 'Health check exceeded timeout (500ms)' });
      expect(st.status).to.equal('unhealthy');
      const long = `${'a'.repeat(4095)}é`; // é is two bytes: it would end past 4096
      expect(truncateUtf8(long)).to.equal('a'.repeat(4095));
      applyProbe(h, st, at(18, 0, 'b'.repeat(10_000)), 0);
      expect(Buffer.byteLength(st.log[4]!.output)).to.equal(4096);
    });
  });

  describe('the timer wheel', () => {
    let now = 0;
    let wheel: TimerWheel;
    beforeEach(() => {
      now = 0;
      wheel = new TimerWheel(() => now);
    });
    afterEach(() => wheel.close());

    it('fires each entry once when its tick has come, and not before', () => {
      const fired: string[] = [];
      wheel.schedule('a', 120, () => fired.push('a'));
      wheel.schedule('b', 40, () => fired.push('b'));
      now = 49;
      wheel.advance();
      expect(fired).to.deep.equal([]);
      now = 50;
      wheel.advance();
      expect(fired).to.deep.equal(['b']);
      now = 149;
      wheel.advance();
      expect(fired).to.deep.equal(['b']);
      now = 150;
      wheel.advance();
      wheel.advance();
      expect(fired).to.deep.equal(['b', 'a']);
      expect(wheel.size).to.equal(0);
    });

    it('a later round in the same slot waits for its round; cancel and reschedule replace', () => {
      const fired: string[] = [];
      wheel.schedule('far', SLOTS * TICK_MS + 10, () => fired.push('far'));
      wheel.schedule('near', 10, () => fired.push('near'));
      wheel.schedule('gone', 10, () => fired.push('gone'));
      wheel.cancel('gone');
      wheel.schedule('near', 30, () => fired.push('near2'));
      now = TICK_MS;
      wheel.advance();
      expect(fired).to.deep.equal(['near2']);
      now = SLOTS * TICK_MS;
      wheel.advance();
      expect(fired).to.deep.equal(['near2']);
      now = (SLOTS + 1) * TICK_MS;
      wheel.advance();
      expect(fired).to.deep.equal(['near2', 'far']);
    });

    it('a late tick catches up: everything due fires once, even after more than a revolution', () => {
      const fired = new Map<string, number>();
      for (let i = 0; i < 1000; i++) wheel.schedule(`c${i}`, i * 37, () => fired.set(`c${i}`, (fired.get(`c${i}`) ?? 0) + 1));
      now = 10 * SLOTS * TICK_MS;
      wheel.advance();
      expect(fired.size).to.equal(1000);
      expect([...fired.values()].every((n) => n === 1)).to.equal(true);
    });

    it('an entry that schedules itself again from its callback keeps going', () => {
      let n = 0;
      const again = (): void => {
        n++;
        wheel.schedule('x', 100, again);
      };
      wheel.schedule('x', 100, again);
      for (now = 0; now <= 1000; now += TICK_MS) wheel.advance();
      expect(n).to.equal(10);
    });
  });
});
