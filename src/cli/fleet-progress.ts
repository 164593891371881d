// Live progress of a fleet operation on stderr: one line redrawn in place on a terminal,
// plain lines every few seconds otherwise (CI logs keep a readable history, not a
// thousand carriage returns).
import type { FleetCounts } from '../api/fleets.js';

const PLAIN_EVERY_MS = 2000;
const RATE_WINDOW_MS = 1000;

export function exitedTotal(c: FleetCounts): number {
  return Object.values(c.exited).reduce((a, b) => a + b, 0);
}

/** `0:67 1:67 2:66`, codes in numeric order; `-` when none exited. */
export function formatExited(exited: Record<string, number>): string {
  const codes = Object.keys(exited).sort((a, b) => Number(a) - Number(b));
  return codes.length === 0 ? '-' : codes.map((c) => `${c}:${exited[c]}`).join(' ');
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export class Progress {
  private readonly t0 = performance.now();
  private lastPlain = -Infinity;
  private lastLine = '';
  private lastPrinted = '';
  private samples: { t: number; n: number }[] = [];
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream, private readonly tty: boolean) {}

  /**
   * `label` names the phase (`demo`, `demo jobs`); `done` of `total` is what the rate follows
   * (containers started, jobs finished), and `doneWord` says what it counts.
   */
  update(label: string, c: FleetCounts, done: number, total: number, doneWord: string): void {
    const now = performance.now();
    this.samples.push({ t: now, n: done });
    while (this.samples.length > 2 && now - this.samples[1]!.t > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const rate = now - first.t > 0 ? Math.max(0, ((done - first.n) * 1000) / (now - first.t)) : 0;
    const parts = [`${label}: ${done}/${total} ${doneWord}`];
    const more: [number, string][] = [
      [c.running, 'running'], [c.starting, 'starting'], [c.queued, 'queued'], [c.created, 'waiting'],
      [c.restarting, 'restarting'], [exitedTotal(c), `exited (${formatExited(c.exited)})`], [c.failed, 'failed'],
      [c.removing, 'removing'], [c.healthy, 'healthy'], [c.unhealthy, 'unhealthy'],
    ];
    for (const [n, word] of more) if (n > 0 && word !== doneWord) parts.push(`${n} ${word}`);
    parts.push(`${Math.round(rate)}/s`, seconds(now - this.t0));
    const line = parts.join(' · ');
    if (this.tty) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else if (now - this.lastPlain >= PLAIN_EVERY_MS && line !== this.lastPrinted) {
      this.out.write(`${line}\n`);
      this.lastPlain = now;
      this.lastPrinted = line;
    }
    this.lastLine = line;
  }

  /** Ends the display: the terminal line is kept (and ended), the log gets the final state. */
  finish(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    else if (!this.tty && this.lastLine !== this.lastPrinted) this.out.write(`${this.lastLine}\n`);
    this.drawn = false;
    this.lastLine = '';
    this.lastPrinted = '';
    this.samples = [];
    this.lastPlain = -Infinity;
  }

  elapsedMs(): number {
    return performance.now() - this.t0;
  }
}
