// What `skiff fleet up` reports at the end: the operation's result and, with --wait, the
// jobs' exit codes, durations and failures with the last lines of their consoles.
// summarize() is pure; consoleTails() asks skiffd for the logs.
import type { FleetContainerView, FleetView, PlanCounts } from '../api/fleets.js';
import { percentile } from '../api/stats.js';
import { DaemonError, stream } from './client.js';
import { Deframer } from './frames.js';
import { formatExited, seconds } from './fleet-progress.js';

/** Console lines shown per failure, and failures whose consoles are fetched at most. */
export const TAIL_LINES = 5;
export const MAX_TAILS = 20;

export interface Failure {
  name: string;
  service: string;
  status: FleetContainerView['status'];
  exitCode: number | null;
  error: string | null;
  /** the last lines of its console; null when skiffd could not give them */
  console: string[] | null;
}

export interface JobSummary {
  total: number;
  /** exited jobs by exit code */
  byExitCode: Record<string, number>;
  /** of the exited jobs, nearest-rank percentiles */
  durationMs: { p50: number; p90: number; p99: number } | null;
}

export interface UpSummary {
  fleet: string;
  ok: boolean;
  elapsedMs: number;
  plan: PlanCounts;
  totals: FleetView['totals'];
  /** present with --wait */
  jobs: JobSummary | null;
  failures: Failure[];
  /** why console lines are missing, when they are */
  consoleNote: string | null;
  services: FleetView['services'];
}

function isFailure(c: FleetContainerView, job: boolean, checked: boolean): boolean {
  if (c.status === 'failed') return true;
  // With --wait, a health check that did not pass is a failure of `up` (as `docker compose up --wait`).
  if (checked && c.status === 'running' && c.health === 'unhealthy') return true;
  if (c.status === 'created') return c.error !== null; // not started: a dependency failed
  // A service's container that ended is a failure of `up` only if this operation could not start it;
  // a job's is a failure whenever it did not exit 0.
  return job && c.status === 'exited' && c.exitCode !== 0;
}

/**
 * `jobServices` null: no --wait, failures are containers this `up` could not start;
 * otherwise the jobs' exit codes count too, and `jobs` summarizes them. `checkedServices`
 * (with --wait): the services whose unhealthy containers are failures.
 */
export function summarize(view: FleetView, plan: PlanCounts, elapsedMs: number, jobServices: ReadonlySet<string> | null,
  checkedServices: ReadonlySet<string> | null = null): UpSummary {
  const containers = view.services.flatMap((s) => s.containers ?? []);
  const failures = containers
    .filter((c) => isFailure(c, jobServices?.has(c.service) ?? false, checkedServices?.has(c.service) ?? false))
    .map((c): Failure => ({
      name: c.name, service: c.service, status: c.status, exitCode: c.exitCode,
      error: c.status === 'running' && c.health === 'unhealthy' ? `unhealthy${c.error ? `: ${c.error}` : ''}` : c.error,
      console: null,
    }));
  let jobs: JobSummary | null = null;
  if (jobServices !== null) {
    const mine = containers.filter((c) => jobServices.has(c.service));
    const byExitCode: Record<string, number> = {};
    const durations: number[] = [];
    for (const c of mine) {
      if (c.status !== 'exited') continue;
      const code = String(c.exitCode ?? -1);
      byExitCode[code] = (byExitCode[code] ?? 0) + 1;
      if (c.durationMs !== null) durations.push(c.durationMs);
    }
    durations.sort((a, b) => a - b);
    jobs = {
      total: mine.length,
      byExitCode,
      durationMs: durations.length === 0 ? null
        : { p50: percentile(durations, 50), p90: percentile(durations, 90), p99: percentile(durations, 99) },
    };
  }
  return {
    fleet: view.name, ok: failures.length === 0, elapsedMs, plan, totals: view.totals, jobs, failures,
    consoleNote: null, services: view.services,
  };
}

/** The last `lines` lines of a container's console, from GET /containers/{name}/logs?tail=. */
async function consoleTail(name: string, tty: boolean, lines: number): Promise<string[]> {
  const res = await stream('GET', `/containers/${encodeURIComponent(name)}/logs?stdout=1&stderr=1&tail=${lines}`);
  const chunks: Buffer[] = [];
  const deframer = tty ? null : new Deframer((_s, p) => chunks.push(Buffer.from(p)));
  for await (const c of res) {
    if (deframer) deframer.push(c as Buffer);
    else chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r\n/g, '\n').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1).slice(-lines);
}

/**
 * Fills in the consoles of the first MAX_TAILS failures. A skiffd without a console forwarder
 * answers 501: the failures are still reported, with a note instead of their output.
 */
export async function consoleTails(s: UpSummary, ttyOf: (name: string) => boolean): Promise<void> {
  for (const f of s.failures.slice(0, MAX_TAILS)) {
    if (f.status !== 'exited') continue; // never ran: no console, the error says why
    try {
      f.console = await consoleTail(f.name, ttyOf(f.name), TAIL_LINES);
    } catch (err) {
      if (!(err instanceof DaemonError)) throw err;
      if (err.status === 501) {
        s.consoleNote = `console output is not available: ${err.message}`;
        return;
      }
      f.console = null;
    }
  }
}

function planLine(p: PlanCounts): string {
  return `${p.create} created · ${p.replace} replaced · ${p.start} started again · ${p.remove} removed · ${p.keep} unchanged`;
}

export function formatSummary(s: UpSummary): string {
  const t = s.totals;
  const out = [`${s.fleet}: ${planLine(s.plan)} — ${t.running} running, ${t.failed} failed (${seconds(s.elapsedMs)})`];
  if (t.healthy + t.unhealthy + t.healthStarting > 0) out.push(`health: ${t.healthy} healthy · ${t.unhealthy} unhealthy · ${t.healthStarting} starting`);
  if (s.jobs && s.jobs.total > 0) {
    const j = s.jobs;
    const exited = Object.values(j.byExitCode).reduce((a, b) => a + b, 0);
    out.push(`jobs: ${exited}/${j.total} exited · by exit code ${formatExited(j.byExitCode)}`);
    if (j.durationMs) out.push(`duration: p50 ${ms(j.durationMs.p50)} · p90 ${ms(j.durationMs.p90)} · p99 ${ms(j.durationMs.p99)}`);
  }
  if (s.failures.length > 0) {
    out.push(`failures (${s.failures.length}):`);
    for (const f of s.failures) {
      const how = f.status === 'exited' ? `exited with ${f.exitCode ?? 'an unknown status'}${f.error ? `: ${f.error}` : ''}`
        : f.error ?? f.status;
      out.push(`  ${f.name}: ${how}`);
      for (const line of f.console ?? []) out.push(`    | ${line}`);
    }
    const untailed = s.failures.filter((f) => f.status === 'exited').length - MAX_TAILS;
    if (untailed > 0 && !s.consoleNote) out.push(`  (console lines of the first ${MAX_TAILS} only; \`skiff logs NAME\` shows the others)`);
    if (s.consoleNote) out.push(`  (${s.consoleNote})`);
  }
  return `${out.join('\n')}\n`;
}

function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)} ms` : seconds(n);
}
