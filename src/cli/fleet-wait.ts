// `fleet up --wait-timeout SECONDS`, as Compose has it: the value read strictly, and what is still
// not ready when the time is up (per service: how many of its replicas are running, or healthy
// where it has a health check, or finished where it is a job), for the message the exit 1 carries.
// The fleet is left as it is, up, as Compose leaves it.
import type { FleetServiceView, FleetView } from '../api/fleets.js';
import { exitedTotal } from './fleet-progress.js';

/** Milliseconds from --wait-timeout's text; null (the message) for anything but a whole number of seconds, at least 1. */
export function parseWaitTimeout(text: string): { ms: number } | { error: string } {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1 || !Number.isSafeInteger(Number(trimmed) * 1000)) {
    return { error: `--wait-timeout: expected a whole number of seconds, at least 1, got ${JSON.stringify(text)}` };
  }
  return { ms: Number(trimmed) * 1000 };
}

/** Whether the service's replicas wait on a health check: the file says so, or skiffd reports health (an image's check). */
export function hasHealth(s: FleetServiceView): boolean {
  return s.healthStarting + s.healthy + s.unhealthy > 0;
}

function states(s: FleetServiceView): string {
  const parts: string[] = [];
  const add = (n: number, what: string) => {
    if (n > 0) parts.push(`${n} ${what}`);
  };
  add(s.created, 'created'); add(s.queued, 'queued'); add(s.starting, 'starting'); add(s.restarting, 'restarting');
  add(s.healthStarting, 'health: starting'); add(s.unhealthy, 'unhealthy'); add(s.failed, 'failed'); add(exitedTotal(s), 'exited');
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** One line per service that is not ready: `db: 0 of 1 healthy (1 health: starting)`. */
export function notReady(v: FleetView, jobs: ReadonlySet<string>, checked: ReadonlySet<string>): string[] {
  const lines: string[] = [];
  for (const s of v.services) {
    if (jobs.has(s.name)) {
      const finished = exitedTotal(s) + s.failed;
      if (finished < s.desired) lines.push(`${s.name}: ${finished} of ${s.desired} finished${states(s)}`);
    } else if (checked.has(s.name) || hasHealth(s)) {
      if (s.healthy < s.desired) lines.push(`${s.name}: ${s.healthy} of ${s.desired} healthy${states(s)}`);
    } else if (s.running < s.desired) {
      lines.push(`${s.name}: ${s.running} of ${s.desired} running${states(s)}`);
    }
  }
  return lines;
}
