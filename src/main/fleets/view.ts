// Container records → the JSON of GET /fleets and GET /fleets/{name}. Pure. A fleet is its
// containers' records (record.fleet, and the skiff.service / skiff.replica labels), joined
// with the report of the last operation while skiffd has one.
import { LABEL_SERVICE, LABEL_REPLICA } from './request.js';
import type { Operation } from './operation.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { FleetContainerView, FleetCounts, FleetListEntry, FleetServiceView, FleetView } from '../../api/fleets.js';

export function emptyCounts(desired = 0): FleetCounts {
  return { desired, created: 0, queued: 0, starting: 0, running: 0, restarting: 0, exited: {}, failed: 0, removing: 0, healthStarting: 0, healthy: 0, unhealthy: 0 };
}

function serviceOf(r: ContainerRecord): string {
  return r.spec.labels[LABEL_SERVICE] ?? '';
}

function count(c: FleetCounts, r: ContainerRecord, op: Operation | null): void {
  if (op?.state === 'running' && op.removing.has(r.name)) {
    c.removing++;
    return;
  }
  switch (r.status) {
    case 'created':
      if (op?.errors.has(r.name)) c.failed++;
      else c.created++;
      return;
    case 'exited': {
      const code = String(r.exitCode ?? -1);
      c.exited[code] = (c.exited[code] ?? 0) + 1;
      return;
    }
    case 'removed':
      return; // never a member: removal drops the record
    case 'running':
      c.running++;
      if (r.spec.healthcheck === null) return;
      if (r.health?.status === 'healthy') c.healthy++;
      else if (r.health?.status === 'unhealthy') c.unhealthy++;
      else c.healthStarting++;
      return;
    case 'queued':
    case 'starting':
    case 'restarting':
    case 'failed':
      c[r.status]++;
  }
}

function addCounts(into: FleetCounts, c: FleetCounts): void {
  into.desired += c.desired;
  into.created += c.created;
  into.queued += c.queued;
  into.starting += c.starting;
  into.running += c.running;
  into.restarting += c.restarting;
  into.failed += c.failed;
  into.removing += c.removing;
  into.healthStarting += c.healthStarting;
  into.healthy += c.healthy;
  into.unhealthy += c.unhealthy;
  for (const [code, n] of Object.entries(c.exited)) into.exited[code] = (into.exited[code] ?? 0) + n;
}

/** Why a running container is unhealthy: its streak and its last probe, for the fleet's report. */
function unhealthyReason(r: ContainerRecord): string | null {
  if (r.status !== 'running' || r.health?.status !== 'unhealthy') return null;
  const last = r.health.log.at(-1);
  const output = last?.output.trim().split('\n')[0]?.slice(0, 200) ?? '';
  return `${r.health.failingStreak} probes failed in a row${last ? `; the last exited ${last.exitCode}${output ? `: ${output}` : ''}` : ''}`;
}

function containerView(r: ContainerRecord, opError: string | undefined, now: number): FleetContainerView {
  const started = r.startedAt === null ? null : Date.parse(r.startedAt);
  const ended = r.status === 'running' ? now : r.finishedAt === null ? null : Date.parse(r.finishedAt);
  return {
    name: r.name,
    service: serviceOf(r),
    replica: Number(r.spec.labels[LABEL_REPLICA] ?? 0),
    status: r.status,
    pid: r.pid,
    exitCode: r.exitCode,
    signal: r.signal,
    error: r.error ?? opError ?? unhealthyReason(r),
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationMs: started !== null && ended !== null && ended >= started ? ended - started : null,
    restartCount: r.restartCount,
    health: r.spec.healthcheck === null ? null : r.health?.status ?? 'starting',
  };
}

/**
 * Which containers a view lists: all, none (counts only), or those a summary reports on:
 * every one that is not running, and the running ones whose health check failed.
 */
export type ContainerSelection = 'all' | 'none' | 'not-running';

function selected(r: ContainerRecord, which: ContainerSelection): boolean {
  if (which === 'all') return true;
  return which === 'not-running' && (r.status !== 'running' || r.health?.status === 'unhealthy');
}

export function fleetView(name: string, members: readonly ContainerRecord[], op: Operation | null, opts: { containers: ContainerSelection; now?: number }): FleetView {
  const now = opts.now ?? Date.now();
  const byService = new Map<string, ContainerRecord[]>();
  // Declared services first, in the file's order; then any others the records name
  // (services being removed, or all of them when skiffd has no report since its restart).
  const declared = op?.kind === 'up' ? op.services : [];
  for (const s of declared) byService.set(s.name, []);
  for (const r of [...members].sort((a, b) => serviceOf(a).localeCompare(serviceOf(b)))) {
    const list = byService.get(serviceOf(r)) ?? [];
    list.push(r);
    byService.set(serviceOf(r), list);
  }
  const totals = emptyCounts();
  const services = [...byService].map(([service, records]): FleetServiceView => {
    records.sort((a, b) => Number(a.spec.labels[LABEL_REPLICA] ?? 0) - Number(b.spec.labels[LABEL_REPLICA] ?? 0));
    const d = declared.find((s) => s.name === service);
    const c = emptyCounts(op?.kind === 'up' ? d?.replicas ?? 0 : op?.kind === 'down' ? 0 : records.length);
    for (const r of records) count(c, r, op);
    addCounts(totals, c);
    if (opts.containers === 'none') return { name: service, ...c };
    const listed = opts.containers === 'all' ? records : records.filter((r) => selected(r, opts.containers));
    return { name: service, ...c, containers: listed.map((r) => containerView(r, op?.errors.get(r.name), now)) };
  });
  return { name, totals, services, operation: op?.view() ?? null };
}

export function fleetListEntry(name: string, members: readonly ContainerRecord[], op: Operation | null): FleetListEntry {
  const v = fleetView(name, members, op, { containers: 'none' });
  return {
    name,
    services: v.services.length,
    containers: members.length,
    running: v.totals.running,
    exited: Object.values(v.totals.exited).reduce((a, b) => a + b, 0),
    failed: v.totals.failed,
    operation: op?.state ?? null,
  };
}
