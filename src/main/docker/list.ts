// GET /containers/json: which containers, in which order, as Docker chooses them. Pure.
//
// Newest first. Only running ones unless `all`, or unless a filter that asks about stopped
// containers (status, exited), `limit`, `before` or `since` is given, as Docker does. Filters:
// id (prefix), name (regular expression, as Docker), label (key or key=value, each must hold),
// status, exited (exit code), health (starting, healthy, unhealthy, none), ancestor (the Image
// the container was created with: "host" or an image directory), network (none or host), before
// and since (a container's name or id), volume (a bind's source or a mount's target).
import { InvalidArgument, NotFound } from '../lifecycle/errors.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import { anyOf, labelsMatch, nameMatches, parseFilters } from './filters.js';
import { dockerState, toListEntry } from './shape.js';
import { healthFilterValue } from './health.js';

const ACCEPTED = ['id', 'name', 'label', 'status', 'exited', 'ancestor', 'network', 'before', 'since', 'volume', 'health', 'isolation', 'is-task'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];
const STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === '1' || v === 'true' || v === 'True';
}

/** The container a before/since filter names, as the client wrote it (404 as Docker's if there is none). */
function pivot(all: readonly ContainerRecord[], ref: string, filter: string): ContainerRecord {
  const bare = ref.replace(/^\//, '');
  const hit = all.find((r) => r.name === bare) ?? all.find((r) => r.id === ref) ?? all.find((r) => ref.length > 0 && r.id.startsWith(ref));
  if (!hit) throw new NotFound(`No such container: ${ref} (in the ${filter} filter)`);
  return hit;
}

function image(r: ContainerRecord): string {
  return r.spec.fromImage?.ref ?? r.spec.image ?? r.spec.rootfs;
}

export function listContainers(records: readonly ContainerRecord[], q: URLSearchParams): object[] {
  const f = parseFilters(q.get('filters'), ACCEPTED);
  for (const s of f.get('status') ?? []) {
    if (!STATES.includes(s)) throw new InvalidArgument(`invalid filter 'status=${s}' (one of ${STATES.join(', ')})`);
  }
  for (const h of f.get('health') ?? []) {
    if (!HEALTH.includes(h)) throw new InvalidArgument(`invalid filter 'health=${h}' (one of ${HEALTH.join(', ')})`);
  }
  for (const code of f.get('exited') ?? []) {
    if (!/^-?\d+$/.test(code)) throw new InvalidArgument(`invalid filter 'exited=${code}': an exit code is a whole number`);
  }
  const limitText = q.get('limit');
  const limit = limitText === null || limitText === '' ? -1 : Number(limitText);
  if (!Number.isInteger(limit)) throw new InvalidArgument(`invalid limit ${JSON.stringify(limitText)}: a whole number`);

  const newestFirst = [...records].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const before = (f.get('before') ?? []).map((ref) => pivot(newestFirst, ref, 'before'));
  const since = (f.get('since') ?? []).map((ref) => pivot(newestFirst, ref, 'since'));
  const all = flag(q, 'all') || f.has('status') || f.has('exited') || limit > 0 || before.length > 0 || since.length > 0;
  const position = (r: ContainerRecord) => newestFirst.indexOf(r);

  const chosen = newestFirst.filter((r) => {
    const state = dockerState(r);
    if (!all && state !== 'running' && state !== 'restarting') return false;
    if (!anyOf(f, 'id', (v) => r.id.startsWith(v))) return false;
    if (!anyOf(f, 'name', (v) => nameMatches(v, r.name))) return false;
    if (!labelsMatch(f, r.spec.labels)) return false;
    if (!anyOf(f, 'status', (v) => v === state)) return false;
    if (!anyOf(f, 'exited', (v) => state === 'exited' && Number(v) === (r.exitCode ?? 0))) return false;
    if (!anyOf(f, 'ancestor', (v) => v === image(r))) return false;
    if (!anyOf(f, 'network', (v) => v === r.spec.network)) return false;
    if (!anyOf(f, 'volume', (v) => r.spec.mounts.some((m) => m.target === v || (m.type === 'bind' && m.source === v)))) return false;
    if (!anyOf(f, 'health', (v) => v === healthFilterValue(r))) return false;
    if (!anyOf(f, 'isolation', (v) => v === 'default')) return false;
    if (!anyOf(f, 'is-task', (v) => v === 'false')) return false;
    // before: created earlier than the named container (later in newest-first order); since: later.
    if (before.some((p) => position(r) <= position(p))) return false;
    if (since.some((p) => position(r) >= position(p))) return false;
    return true;
  });
  return (limit > 0 ? chosen.slice(0, limit) : chosen).map(toListEntry);
}
