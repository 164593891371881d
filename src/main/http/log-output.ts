// What `logs` and `attach` send of a container's output records: Docker's selection (the
// stdout and stderr flags, since, until, tail) and its shape (8-byte frames by stream
// without a TTY, raw bytes with one; RFC 3339 times with 9 fraction digits before each line
// with `timestamps`).
import type { OutputRecord } from '../../forwarder/index.js';
import { parseEventTime } from '../docker/events.js';
import { InvalidArgument } from '../lifecycle/errors.js';
import { flag, integer } from './query.js';
import { frame } from './respond.js';

export interface LogSelection {
  stdout: boolean;
  stderr: boolean;
  /** ns since the epoch, or null */
  since: bigint | null;
  until: bigint | null;
  timestamps: boolean;
  /** the last N lines, or null for all */
  tail: number | null;
}

/**
 * The logs (or attach) query. Neither stdout nor stderr named: both, as skiff's own CLI
 * asks; one named: only those that are set; both named and false: refused, as Docker does.
 */
export function logSelection(q: URLSearchParams): LogSelection {
  const named = q.has('stdout') || q.has('stderr');
  const stdout = named ? flag(q, 'stdout') : true;
  const stderr = named ? flag(q, 'stderr') : true;
  if (!stdout && !stderr) throw new InvalidArgument('Bad parameters: you must choose at least one stream (stdout=1 or stderr=1)');
  const time = (name: string): bigint | null => {
    const v = q.get(name);
    // Docker's CLI sends 0 (and docker-py sometimes an empty string) for "not set".
    if (v === null || v === '' || v === '0') return null;
    return parseEventTime(v, name);
  };
  const tailText = q.get('tail');
  return {
    stdout,
    stderr,
    since: time('since'),
    until: time('until'),
    timestamps: flag(q, 'timestamps'),
    tail: tailText === null || tailText === 'all' || tailText === '' ? null : integer(q, 'tail', 0)!,
  };
}

function recordNs(r: OutputRecord): bigint {
  return BigInt(Math.floor(r.time * 1e6));
}

/** The records a selection keeps, by stream and time (not tail: see lastLines). */
export function selected(s: LogSelection, r: OutputRecord): boolean {
  if (r.stream === 1 ? !s.stdout : !s.stderr) return false;
  if (s.since !== null && recordNs(r) < s.since) return false;
  if (s.until !== null && recordNs(r) > s.until) return false;
  return true;
}

/** The records that hold the last `n` lines of these (a trailing newline ends the last line, it does not start one). */
export function lastLines(records: OutputRecord[], n: number): OutputRecord[] {
  if (n === 0) return [];
  let seen = 0;
  let skipFinalNewline = true;
  for (let i = records.length - 1; i >= 0; i--) {
    const data = records[i]!.data;
    let end = data.length;
    if (skipFinalNewline && end > 0) {
      skipFinalNewline = false;
      if (data[end - 1] === 0x0a) end--;
    }
    for (let k = end - 1; k >= 0; k--) {
      if (data[k] === 0x0a && ++seen === n) {
        const first = { ...records[i]!, data: data.subarray(k + 1) };
        return [...(first.data.length > 0 ? [first] : []), ...records.slice(i + 1)];
      }
    }
  }
  return records;
}

/** RFC 3339 in UTC with nine fraction digits, as Docker's RFC3339NanoFixed. */
export function rfc3339Nano(ms: number): string {
  const whole = Math.floor(ms);
  const ns = Math.min(999_999, Math.max(0, Math.round((ms - whole) * 1e6)));
  const iso = new Date(whole).toISOString(); // …T15:04:05.123Z
  return `${iso.slice(0, -1)}${String(ns).padStart(6, '0')}Z`;
}

/**
 * Turns records into what goes on the wire. With timestamps, each line gets its chunk's time
 * in front; a line that runs over several chunks gets the time of the chunk it starts in
 * (the state is kept per stream, since the two interleave).
 */
export class LogWriter {
  private readonly atLineStart = new Map<number, boolean>([[1, true], [2, true]]);

  constructor(private readonly framed: boolean, private readonly timestamps: boolean) {}

  encode(r: OutputRecord): Buffer {
    const data = this.timestamps ? this.stamp(r) : r.data;
    return this.framed ? frame(r.stream, data) : data;
  }

  private stamp(r: OutputRecord): Buffer {
    const prefix = Buffer.from(`${rfc3339Nano(r.time)} `);
    const parts: Buffer[] = [];
    let start = 0;
    let lineStart = this.atLineStart.get(r.stream) ?? true;
    for (let i = 0; i < r.data.length; i++) {
      if (lineStart) parts.push(prefix);
      lineStart = false;
      if (r.data[i] === 0x0a) {
        parts.push(r.data.subarray(start, i + 1));
        start = i + 1;
        lineStart = true;
      }
    }
    if (start < r.data.length) parts.push(r.data.subarray(start));
    this.atLineStart.set(r.stream, lineStart);
    return Buffer.concat(parts);
  }
}
