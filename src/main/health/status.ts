// A container's health as Docker keeps it (moby daemon/health.go), and the one rule that moves
// it: each probe's result. Pure: the monitor (monitor.ts) runs the probes and calls in here.
//
//   start ─▶ starting ──success──▶ healthy ──`retries` failures in a row──▶ unhealthy
//               │  ▲                  ▲                                        │
//               │  └ failures in the start period do not count                 │
//               └──`retries` failures in a row (after the start period)──▶ unhealthy ──success──▶ healthy
import type { HealthcheckSpec } from '../../spec/health.js';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** One probe, as inspect shows it (State.Health.Log): times in RFC 3339. */
export interface HealthLogEntry {
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  /** the last LOG_ENTRIES probes, oldest first */
  log: HealthLogEntry[];
}

/** Docker keeps the last five probes, each probe's output cut to 4 KiB. */
export const LOG_ENTRIES = 5;
export const OUTPUT_BYTES = 4096;

/** What one probe came to. A probe that could not run at all is exit code -1 with the reason as output. */
export interface ProbeOutcome {
  start: Date;
  end: Date;
  exitCode: number;
  output: string;
  timedOut: boolean;
}

export function newHealth(log: HealthLogEntry[] = []): HealthState {
  return { status: 'starting', failingStreak: 0, log };
}

/** Whether the start period still runs at `now`: failures do not count and probes come every start interval. */
export function inStartPeriod(h: HealthcheckSpec, state: HealthState, startedAtMs: number, now: number): boolean {
  return state.status === 'starting' && now - startedAtMs < h.startPeriodMs;
}

/** How long after a probe ends the next one begins. */
export function nextDelayMs(h: HealthcheckSpec, state: HealthState, startedAtMs: number, now: number): number {
  return inStartPeriod(h, state, startedAtMs, now) ? h.startIntervalMs : h.intervalMs;
}

/** At most `max` bytes of UTF-8, never cutting a character in two. */
export function truncateUtf8(s: string, max = OUTPUT_BYTES): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  let end = max;
  // Back off over continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}

/** Docker's output for a probe killed at its timeout. */
export function timeoutOutput(h: HealthcheckSpec): string {
  return `Health check exceeded timeout (${formatSeconds(h.timeoutMs)})`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Records a probe's result in `state` and returns the new status if it changed (else null).
 * A timed-out probe is a failure with exit code -1, as in Docker.
 */
export function applyProbe(h: HealthcheckSpec, state: HealthState, p: ProbeOutcome, startedAtMs: number): HealthStatus | null {
  const exitCode = p.timedOut ? -1 : p.exitCode;
  const output = p.timedOut ? timeoutOutput(h) : truncateUtf8(p.output);
  state.log.push({ start: p.start.toISOString(), end: p.end.toISOString(), exitCode, output });
  if (state.log.length > LOG_ENTRIES) state.log.splice(0, state.log.length - LOG_ENTRIES);
  const before = state.status;
  if (exitCode === 0) {
    state.failingStreak = 0;
    state.status = 'healthy';
  } else if (!inStartPeriod(h, state, startedAtMs, p.end.getTime())) {
    state.failingStreak++;
    if (state.failingStreak >= h.retries) state.status = 'unhealthy';
  }
  return state.status === before ? null : state.status;
}
