// GET /events with Docker's since, until and filters.
//
// since/until are unix seconds with an optional fraction (what the docker CLI sends:
// "1700000000.123456789") or an RFC 3339 time. As Docker: with since or until, the events
// skiffd still remembers from that window are sent first; with until, the stream ends at
// until (at once when it has passed); with neither, only live events, until the client goes.
// Filters: type (container: skiff's only kind), container (an id, its prefix, or a name),
// event (the action), label (key or key=value, on the container's labels), image. A filter on
// a kind of object skiff has none of (network, volume, daemon…) matches no event.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DockerEvent, EventBus } from '../events.js';
import { InvalidArgument } from '../lifecycle/errors.js';
import { anyOf, labelsMatch, parseFilters, type Filters } from './filters.js';

const ACCEPTED = ['type', 'container', 'event', 'label', 'image', 'scope', 'daemon', 'network', 'volume', 'plugin', 'node',
  'service', 'secret', 'config'];
/** Kinds of objects skiff has none of: a filter on one leaves no event. */
const ABSENT = ['daemon', 'network', 'volume', 'plugin', 'node', 'service', 'secret', 'config'];

/** A since/until value in nanoseconds since the epoch. */
export function parseEventTime(v: string, param: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
  const ms = /^\d{4}-\d\d-\d\dT/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) {
    throw new InvalidArgument(`invalid ${param} ${JSON.stringify(v.slice(0, 60))}: unix seconds (optionally with a fraction) or an RFC 3339 time`);
  }
  return BigInt(ms) * 1_000_000n;
}

export function eventMatches(f: Filters, ev: DockerEvent): boolean {
  if (ABSENT.some((k) => (f.get(k) ?? []).length > 0)) return false;
  const name = ev.Actor.Attributes.name ?? '';
  return anyOf(f, 'type', (v) => v === ev.Type)
    && anyOf(f, 'scope', (v) => v === ev.scope)
    && anyOf(f, 'container', (v) => v === ev.id || (v.length > 0 && ev.id.startsWith(v)) || v.replace(/^\//, '') === name)
    && anyOf(f, 'event', (v) => v === ev.Action || ev.Action.startsWith(`${v}:`))
    && anyOf(f, 'image', (v) => v === ev.from)
    && labelsMatch(f, ev.Actor.Attributes);
}

export function streamEvents(bus: EventBus, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, apiVersion: string): void {
  const sinceText = q.get('since');
  const untilText = q.get('until');
  const since = sinceText === null || sinceText === '' ? null : parseEventTime(sinceText, 'since');
  const until = untilText === null || untilText === '' ? null : parseEventTime(untilText, 'until');
  const f = parseFilters(q.get('filters'), ACCEPTED);

  res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': apiVersion });
  res.flushHeaders();
  // timeNano is a JSON number: at 1.7e18 a double is only exact to 256 ns, so an event in the
  // very millisecond of `until` could read as after it. skiffd stamps events in whole ms: compare those.
  const eventNs = (ev: DockerEvent) => BigInt(Math.round(ev.timeNano / 1e6)) * 1_000_000n;
  const inWindow = (ev: DockerEvent) => (since === null || eventNs(ev) >= since) && (until === null || eventNs(ev) <= until);
  const send = (ev: DockerEvent) => {
    if (inWindow(ev) && eventMatches(f, ev)) res.write(`${JSON.stringify(ev)}\n`);
  };
  // With until alone, Docker sends every remembered event up to it: replay from the start.
  const replayFrom = since !== null ? Number(since / 1_000_000_000n) : until !== null ? 0 : null;
  const unsubscribe = bus.subscribe(replayFrom, send);
  let timer: NodeJS.Timeout | undefined;
  const finish = () => {
    clearTimeout(timer);
    unsubscribe();
    res.end();
  };
  req.on('close', () => {
    clearTimeout(timer);
    unsubscribe();
  });
  if (until === null) return;
  const left = Number(until / 1_000_000n) - Date.now();
  if (left <= 0) finish();
  else timer = setTimeout(finish, left + 1);
}
