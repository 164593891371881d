// skiffd's HTTP API: the Docker Engine API's paths, fields, status codes and error shape
// ({ "message": … }), over a unix socket. Paths may carry a /v1.NN prefix. skiff's own
// additions (fleets, metrics) live beside them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { acceptCreate } from '../docker/accept.js';
import { listContainers } from '../docker/list.js';
import { logPath, toInspect } from '../docker/shape.js';
import { containerTop } from '../docker/top.js';
import type { EndpointInfo } from '../docker/network-shape.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { EventBus } from '../events.js';
import type { ImageLookup } from '../images/lookup.js';
import { Unsupported } from '../lifecycle/errors.js';
import { isActive } from '../lifecycle/states.js';
import type { Supervisor } from '../lifecycle/supervisor.js';
import type { Metrics } from '../metrics.js';
import { readJson } from './body.js';
import { errorAnswer, HttpError, sendError } from './errors.js';
import { ContainerStreams, type ConsoleAccess } from './container-streams.js';
import { flag, integer } from './query.js';
import { API_VERSION, MIN_API_VERSION, nodeReply, ping, send, type Reply } from './respond.js';
import { stats, update } from './container-resources.js';
import type { Cgroups } from '../cgroups/cgroups.js';

export const SKIFF_VERSION = '0.1.0';

export type { ConsoleAccess } from './container-streams.js';

/** skiff's additions served beside Docker's paths. */
export interface Extensions {
  /**
   * Whether handle() may take a request for this path, decided without a promise: the API asks
   * only the extensions that claim a path (a container's start, wait or create would otherwise
   * go through every extension's async handle() and its turn of the microtask queue first).
   */
  claims(path: string): boolean;
  /** returns true when it handled the request */
  handle(method: string, path: string, req: IncomingMessage, res: ServerResponse, body: () => Promise<unknown>): Promise<boolean>;
}

/** GET /info's cgroup fields, as Docker's. */
function cgroupInfo(cgroups: Cgroups | null): Record<string, unknown> {
  if (!cgroups) return { CgroupDriver: 'none' };
  return {
    CgroupDriver: 'cgroupfs', CgroupVersion: String(cgroups.version),
    MemoryLimit: cgroups.layout.controllers.has('memory'), CpuCfsQuota: cgroups.layout.controllers.has('cpu'),
    CpuShares: cgroups.layout.controllers.has('cpu'), CPUSet: cgroups.layout.controllers.has('cpuset'), PidsLimit: cgroups.layout.controllers.has('pids'),
  };
}

export interface ApiDeps {
  supervisor: Supervisor;
  events: EventBus;
  metrics: Metrics;
  consoles: ConsoleAccess | null;
  extensions: Extensions[];
  /** a container's address on its bridge network, for inspect */
  endpointOf?: (r: ContainerRecord) => EndpointInfo | null;
  /** the network of a Docker create body that names none: bridge (Docker's default), or none (skiffd --docker-network none) */
  dockerDefaultNetwork?: string;
  /** the host's cgroups, for GET /info (null: none) */
  cgroups?: Cgroups | null;
  /** stored images by name, for Image in a create body (src/main/images) */
  images?: ImageLookup;
  /** a container's execs, for inspect's ExecIDs (src/main/exec) */
  execIdsOf?: (containerId: string) => string[] | null;
}

/** `/containers/{ref}` and `/containers/{ref}/{action}`. */
const CONTAINER_PATH = /^\/containers\/([^/]+)(?:\/([a-z]+))?$/;

/** A hot request's handler: its body (parsed when called: a 400 if it is not JSON) and where its answer goes. */
export type HotHandler = (body: () => unknown, reply: Reply) => Promise<void>;

/** A path without its API version prefix (`/v1.44/containers/json` → `/containers/json`): skiff serves every version alike. */
function unversioned(pathname: string): string {
  return pathname.replace(/^\/v1\.\d+(?=\/)/, '');
}

/** A path of letters, digits and `/_-.` (no segment starting with a dot), then an optional query of printable ASCII but `#`. */
const PLAIN_TARGET = /^(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+\/?(?:\?[\x21-\x22\x24-\x7e]*)?$|^\/(?:\?[\x21-\x22\x24-\x7e]*)?$/;

/**
 * The request target as a URL. Clients send a path (`/containers/json`), but HTTP also allows
 * the absolute form (`http://host/path`), which may not parse (`http://[`): that is a 400.
 */
function parseTarget(target: string): { pathname: string; searchParams: URLSearchParams } {
  // The common case without the URL parser: an origin-form path of plain characters, with no
  // dot segment and no percent-encoding for the URL parser to resolve or normalise, and a query
  // of printable ASCII, which URLSearchParams reads as the URL's searchParams would.
  if (PLAIN_TARGET.test(target)) {
    const q = target.indexOf('?');
    return q < 0 ? { pathname: target, searchParams: new URLSearchParams() } : { pathname: target.slice(0, q), searchParams: new URLSearchParams(target.slice(q + 1)) };
  }
  try {
    return new URL(target, 'http://skiffd');
  } catch {
    throw new HttpError(400, `malformed request target ${JSON.stringify(target.length > 100 ? `${target.slice(0, 100)}…` : target)}`);
  }
}

export class Api {
  private readonly streams: ContainerStreams;

  constructor(private readonly d: ApiDeps) {
    this.streams = new ContainerStreams(d.supervisor, d.consoles, d.events);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = parseTarget(req.url ?? '/');
      const path = unversioned(url.pathname);
      const method = req.method ?? 'GET';
      const body = () => readJson(req);
      for (const ext of this.d.extensions) if (ext.claims(path) && await ext.handle(method, path, req, res, body)) return;
      await this.route(method, path, url.searchParams, req, res);
    } catch (err) {
      // A path segment with broken percent-encoding (`/containers/%E0%A4%A/json`) is the client's mistake.
      sendError(res, err instanceof URIError ? new HttpError(400, `malformed percent-encoding in the path ${JSON.stringify(req.url)}`) : err);
    }
  }

  /**
   * The requests a bulk client sends for each container (`docker run --rm`'s create, wait and
   * start, and the Docker CLI's ping before them on each connection), found from the method and
   * target alone, for the lean path (`lean.ts`) to answer without Node's request and response
   * objects; null for anything else (and for a path an extension claims), which Node's server answers.
   */
  hot(method: string, target: string): HotHandler | null {
    const get = method === 'GET' || method === 'HEAD';
    if (!get && method !== 'POST') return null;
    let url: { pathname: string; searchParams: URLSearchParams };
    try {
      url = parseTarget(target);
    } catch {
      return null;
    }
    const path = unversioned(url.pathname);
    for (const ext of this.d.extensions) if (ext.claims(path)) return null;
    if (get) return path === '/_ping' ? (_body, reply) => Promise.resolve(ping(method, reply)) : null;
    const q = url.searchParams;
    if (path === '/containers/create') return (body, reply) => this.answer(reply, () => this.create(q, body(), reply));
    const m = CONTAINER_PATH.exec(path);
    if (m === null) return null;
    const action = m[2];
    if (action === 'start') return (_body, reply) => this.answer(reply, () => this.start(decodeURIComponent(m[1]!), reply));
    if (action === 'wait') return (_body, reply) => this.answer(reply, () => this.streams.wait(decodeURIComponent(m[1]!), q, reply));
    return null;
  }

  private async answer(reply: Reply, handler: () => Promise<void>): Promise<void> {
    try {
      await handler();
    } catch (err) {
      const { status, body } = errorAnswer(err);
      reply.send(status, body);
    }
  }

  private async create(q: URLSearchParams, body: unknown, res: Reply): Promise<void> {
    const { spec, autoRemove } = acceptCreate(body, q.get('name'), { images: this.d.images ?? null, defaultNetwork: this.d.dockerDefaultNetwork ?? 'bridge' });
    const r = await this.d.supervisor.create(spec, { autoRemove });
    res.send(201, { Id: r.id, Warnings: [] });
  }

  private async start(ref: string, res: Reply): Promise<void> {
    const sup = this.d.supervisor;
    const r = sup.get(ref);
    if (r.status === 'running') return res.send(304);
    await sup.start(ref);
    res.send(204);
  }

  private async route(method: string, path: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sup = this.d.supervisor;
    if (path === '/_ping' && (method === 'GET' || method === 'HEAD')) return ping(method, nodeReply(res));
    if (path === '/version' && method === 'GET') {
      return send(res, 200, {
        Platform: { Name: 'skiff' }, Version: SKIFF_VERSION, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION,
        Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, KernelVersion: (await import('node:os')).release(),
        GoVersion: `node ${process.version}`, GitCommit: '', BuildTime: '',
        Components: [{ Name: 'skiffd', Version: SKIFF_VERSION, Details: { ApiVersion: API_VERSION } }],
      });
    }
    if (path === '/info' && method === 'GET') {
      const all = sup.list();
      return send(res, 200, {
        ID: 'skiff', Containers: all.length, ContainersRunning: sup.runningCount(), ContainersPaused: 0,
        ContainersStopped: all.length - sup.runningCount(), Images: 0, Driver: 'skiff', Name: (await import('node:os')).hostname(),
        ServerVersion: SKIFF_VERSION, OperatingSystem: 'linux', OSType: 'linux', NCPU: (await import('node:os')).availableParallelism(),
        ...cgroupInfo(this.d.cgroups ?? null),
      });
    }
    if (path === '/metrics' && method === 'GET') {
      const text = this.d.metrics.render({ queueDepth: sup.queueDepth(), running: sup.runningCount(), containers: sup.list().length, removalBacklog: sup.removalBacklog(), consoles: await this.consoleTotals() });
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(text);
      return;
    }
    if (path === '/events' && method === 'GET') return this.streams.events(q, req, res);
    if (path === '/containers/json' && method === 'GET') {
      return send(res, 200, listContainers(sup.list(), q));
    }
    if (path === '/containers/create' && method === 'POST') return this.create(q, await readJson(req), nodeReply(res));
    const m = CONTAINER_PATH.exec(path);
    if (!m) throw new HttpError(404, `page not found: ${method} ${path}`);
    const ref = decodeURIComponent(m[1]!);
    const action = m[2] ?? '';
    switch (`${method} ${action}`) {
      case 'GET json': {
        const r = sup.get(ref);
        const consoles = this.d.consoles ? await this.d.consoles.counters(r.id).catch(() => undefined) : undefined;
        const inspect = toInspect(r, { ...(consoles ? { console: consoles } : {}), logPath: logPath(r.spec, sup.stateDir(r.name)), endpoint: this.d.endpointOf?.(r) ?? null });
        return send(res, 200, { ...inspect, ExecIDs: this.d.execIdsOf?.(r.id) ?? null });
      }
      case 'POST start': return this.start(ref, nodeReply(res));
      case 'POST stop': {
        const r = sup.get(ref);
        if (!isActive(r)) return send(res, 304);
        await sup.stop(ref, integer(q, 't', 0) ?? integer(q, 'time', 0), q.get('signal') ?? undefined);
        return send(res, 204);
      }
      case 'POST restart': {
        await sup.stop(ref, integer(q, 't', 0));
        await sup.start(ref);
        return send(res, 204);
      }
      case 'POST kill': {
        sup.kill(ref, q.get('signal') ?? 'SIGKILL');
        return send(res, 204);
      }
      case 'POST wait': return this.streams.wait(ref, q, nodeReply(res));
      case 'DELETE ': {
        await sup.remove(ref, { force: flag(q, 'force') });
        return send(res, 204);
      }
      case 'GET top': return send(res, 200, await containerTop(sup.get(ref), q.get('ps_args')));
      case 'POST rename': {
        const name = q.get('name');
        if (name === null || name === '') throw new HttpError(400, 'rename needs the query parameter name (the new name)');
        await sup.rename(ref, name);
        return send(res, 204);
      }
      case 'GET logs': return this.streams.logs(ref, q, res);
      case 'GET stats': return stats(sup, ref, q, res);
      case 'POST update': return update(sup, ref, await readJson(req), res);
      case 'POST attach': return this.streams.attach(ref, q, req, res);
      case 'POST resize': {
        const r = sup.get(ref);
        const consoles = this.consoleAccess();
        const h = integer(q, 'h', 1, 65535), w = integer(q, 'w', 1, 65535);
        if (h === undefined || w === undefined) throw new HttpError(400, 'resize needs the query parameters h and w');
        await sup.consoleOpened(r);
        await consoles.resize(r.id, h, w);
        return send(res, 200);
      }
      default:
        throw new HttpError(404, `page not found: ${method} ${path}`);
    }
  }

  private async consoleTotals(): Promise<Record<string, number>> {
    if (!this.d.consoles) return {};
    const totals: Record<string, number> = {};
    for (const r of this.d.supervisor.list()) {
      const c = await this.d.consoles.counters(r.id).catch(() => null);
      if (!c) continue;
      for (const [k, v] of Object.entries(c)) if (typeof v === 'number') totals[k] = (totals[k] ?? 0) + v;
    }
    return Object.fromEntries(Object.entries(totals).map(([k, v]) => [k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), v]));
  }

  private consoleAccess(): ConsoleAccess {
    if (!this.d.consoles) throw new Unsupported('this skiffd has no console forwarder');
    return this.d.consoles;
  }
}
