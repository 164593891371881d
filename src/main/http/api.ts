// skiffd's HTTP API: the Docker Engine API's paths, fields, status codes and error shape
// ({ "message": … }), over a unix socket. Paths may carry a /v1.NN prefix. skiff's own
// additions (fleets, metrics) live beside them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { acceptCreate } from '../docker/accept.js';
import { CreateError } from '../docker/create.js';
import { streamEvents } from '../docker/events.js';
import { listContainers } from '../docker/list.js';
import { logPath, toInspect } from '../docker/shape.js';
import { ApiError, type Supervisor, type WaitCondition } from '../lifecycle/supervisor.js';
import type { EventBus } from '../events.js';
import type { Metrics } from '../metrics.js';
import { isActive, type ContainerRecord } from '../lifecycle/record.js';

export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';
export const SKIFF_VERSION = '0.1.0';
export const MAX_BODY_BYTES = 1 << 20;

/** What the API needs of the console forwarder beyond what the supervisor uses. */
export interface ConsoleAccess {
  attach(id: string, opts: { replay: boolean; stdin: boolean }): Promise<{
    output: NodeJS.ReadableStream & { destroy(): void };
    write(data: Buffer): void;
    close(): void;
  }>;
  ring(id: string): Promise<Buffer>;
  resize(id: string, rows: number, cols: number): Promise<void>;
  counters(id: string): Promise<object>;
}

/** skiff's additions served beside Docker's paths. */
export interface Extensions {
  /** returns true when it handled the request */
  handle(method: string, path: string, req: IncomingMessage, res: ServerResponse, body: () => Promise<unknown>): Promise<boolean>;
}

export interface ApiDeps {
  supervisor: Supervisor;
  events: EventBus;
  metrics: Metrics;
  consoles: ConsoleAccess | null;
  extensions: Extensions[];
}

export function send(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (body === undefined) {
    res.writeHead(status, { 'Api-Version': API_VERSION });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Api-Version': API_VERSION });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof ApiError) return send(res, err.status, { message: err.message, ...err.extra });
  if (err instanceof CreateError) return send(res, 400, { message: err.message, field: err.field });
  const e = err as Error;
  return send(res, 500, { message: e.message ?? String(err) });
}

/**
 * The request target as a URL. Clients send a path (`/containers/json`), but HTTP also allows
 * the absolute form (`http://host/path`), which may not parse (`http://[`): that is a 400.
 */
function parseTarget(target: string): URL {
  try {
    return new URL(target, 'http://skiffd');
  } catch {
    throw new ApiError(400, `malformed request target ${JSON.stringify(target.length > 100 ? `${target.slice(0, 100)}…` : target)}`);
  }
}

/**
 * Deeper than any body skiff reads (a fleet body nests about 7 levels), far shallower than
 * what would overflow the stack of code that walks a body recursively.
 */
export const MAX_JSON_DEPTH = 100;

/** The nesting depth of JSON text, counted without parsing it (so without recursion). */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return max;
}

/** Reads a JSON body, bounded; 413 beyond `max` bytes, 400 for malformed JSON; null when empty. */
export function readJson(req: IncomingMessage, max = MAX_BODY_BYTES): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      reject(new ApiError(413, `request body too large (${declared} bytes; the limit is ${max})`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new ApiError(413, `request body too large (more than ${max} bytes)`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(null);
      if (jsonDepth(text) > MAX_JSON_DEPTH) {
        return reject(new ApiError(400, `malformed JSON body: nested more than ${MAX_JSON_DEPTH} levels deep`));
      }
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new ApiError(400, `malformed JSON body: ${(err as Error).message}`));
      }
    });
  });
}

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === '1' || v === 'true' || v === 'True';
}

/** Docker's 8-byte stream header: stream type, 3 zero bytes, big-endian length. */
export function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

export class Api {
  constructor(private readonly d: ApiDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = parseTarget(req.url ?? '/');
      const path = url.pathname.replace(/^\/v1\.\d+(?=\/)/, '');
      const method = req.method ?? 'GET';
      const body = () => readJson(req);
      for (const ext of this.d.extensions) if (await ext.handle(method, path, req, res, body)) return;
      await this.route(method, path, url.searchParams, req, res);
    } catch (err) {
      // A path segment with broken percent-encoding (`/containers/%E0%A4%A/json`) is the client's mistake.
      sendError(res, err instanceof URIError ? new ApiError(400, `malformed percent-encoding in the path ${JSON.stringify(req.url)}`) : err);
    }
  }

  private async route(method: string, path: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sup = this.d.supervisor;
    if (path === '/_ping' && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', 'Cache-Control': 'no-cache, no-store, must-revalidate' });
      res.end(method === 'HEAD' ? undefined : 'OK');
      return;
    }
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
      });
    }
    if (path === '/metrics' && method === 'GET') {
      const text = this.d.metrics.render({ queueDepth: sup.queueDepth(), running: sup.runningCount(), containers: sup.list().length, consoles: await this.consoleTotals() });
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(text);
      return;
    }
    if (path === '/events' && method === 'GET') return this.events(q, req, res);
    if (path === '/containers/json' && method === 'GET') {
      return send(res, 200, listContainers(sup.list(), q));
    }
    if (path === '/containers/create' && method === 'POST') {
      const { spec, autoRemove } = acceptCreate(await readJson(req), q.get('name'));
      const r = await sup.create(spec, { autoRemove });
      return send(res, 201, { Id: r.id, Warnings: [] });
    }
    const m = /^\/containers\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
    if (!m) throw new ApiError(404, `page not found: ${method} ${path}`);
    const ref = decodeURIComponent(m[1]!);
    const action = m[2] ?? '';
    switch (`${method} ${action}`) {
      case 'GET json': {
        const r = sup.get(ref);
        const consoles = this.d.consoles ? await this.d.consoles.counters(r.id).catch(() => undefined) : undefined;
        return send(res, 200, toInspect(r, { ...(consoles ? { console: consoles } : {}), logPath: logPath(r.spec, sup.stateDir(r.name)) }));
      }
      case 'POST start': {
        const r = sup.get(ref);
        if (r.status === 'running') return send(res, 304);
        await sup.start(ref);
        return send(res, 204);
      }
      case 'POST stop': {
        const r = sup.get(ref);
        if (!isActive(r)) return send(res, 304);
        const t = q.get('t') ?? q.get('time');
        await sup.stop(ref, t === null ? undefined : Number(t), q.get('signal') ?? undefined);
        return send(res, 204);
      }
      case 'POST restart': {
        const t = q.get('t');
        await sup.stop(ref, t === null ? undefined : Number(t));
        await sup.start(ref);
        return send(res, 204);
      }
      case 'POST kill': {
        await sup.kill(ref, q.get('signal') ?? 'SIGKILL');
        return send(res, 204);
      }
      case 'POST wait': return this.wait(ref, q, res);
      case 'DELETE ': {
        await sup.remove(ref, { force: flag(q, 'force') });
        return send(res, 204);
      }
      case 'GET logs': return this.logs(ref, q, res);
      case 'POST attach': return this.attach(ref, q, req, res);
      case 'POST resize': {
        const r = sup.get(ref);
        if (!this.d.consoles) throw new ApiError(501, 'this skiffd has no console forwarder');
        const h = Number(q.get('h')), w = Number(q.get('w'));
        if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || h > 65535 || w > 65535) {
          throw new ApiError(400, 'resize needs positive integers h and w');
        }
        await this.d.consoles.resize(r.id, h, w);
        return send(res, 200);
      }
      default:
        throw new ApiError(404, `page not found: ${method} ${path}`);
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

  private async wait(ref: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const sup = this.d.supervisor;
    sup.get(ref); // 404 before the headers go out
    const condition = (q.get('condition') ?? 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new ApiError(400, `invalid condition ${condition}`);
    // Docker answers the headers at once and the body when the condition is met.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
    res.flushHeaders();
    const r = await sup.wait(ref, condition);
    res.end(JSON.stringify({ StatusCode: r.exitCode ?? 0, Error: r.error ? { Message: r.error } : null }));
  }

  private async logs(ref: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const r = this.d.supervisor.get(ref);
    if (!this.d.consoles) throw new ApiError(501, 'this skiffd has no console forwarder');
    const framed = !r.spec.tty;
    const follow = flag(q, 'follow') && isActive(r);
    res.writeHead(200, { 'Content-Type': framed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream', 'Api-Version': API_VERSION });
    const out = (b: Buffer) => res.write(framed ? frame(1, b) : b);
    if (!follow) {
      let data = q.get('source') === 'file' ? await this.logFile(r) : await this.d.consoles.ring(r.id).catch(() => Buffer.alloc(0));
      const tail = q.get('tail');
      if (tail !== null && tail !== 'all' && Number(tail) >= 0) data = tailLines(data, Number(tail));
      if (data.length) out(data);
      res.end();
      return;
    }
    const client = await this.d.consoles.attach(r.id, { replay: true, stdin: false });
    client.output.on('data', (b: Buffer) => out(b));
    client.output.on('end', () => res.end());
    res.on('close', () => client.close());
  }

  /** skiff's own: the whole console log (the rotated file, then the current one) instead of the ring. */
  private async logFile(r: ContainerRecord): Promise<Buffer> {
    const { log } = r.spec.console;
    if (log === false) throw new ApiError(400, `${r.name} keeps no console log file (console.log is off); its ring is what \`logs\` shows`);
    const path = log === true ? `${this.d.supervisor.stateDir(r.name)}/console.log` : log;
    const { readFile } = await import('node:fs/promises');
    const parts = await Promise.all([`${path}.1`, path].map((p) => readFile(p).catch(() => Buffer.alloc(0))));
    return Buffer.concat(parts);
  }

  private async attach(ref: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = this.d.supervisor.get(ref);
    if (!this.d.consoles) throw new ApiError(501, 'this skiffd has no console forwarder');
    const upgrade = (req.headers.connection ?? '').toLowerCase().includes('upgrade');
    const framed = !r.spec.tty;
    const replay = q.get('logs') === null ? true : flag(q, 'logs');
    const wantStdin = flag(q, 'stdin');
    // Docker hijacks the connection: 101 for an upgrade, else a 200 whose body is the raw stream.
    const socket: Duplex = req.socket;
    const type = framed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
    socket.write(upgrade
      ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nApi-Version: ${API_VERSION}\r\n\r\n`);
    // The response object must not write anything more on this socket.
    (res as unknown as { _header: string })._header = '';
    res.writeHead = (() => res) as never;
    res.end = (() => res) as never;
    const client = await this.d.consoles.attach(r.id, { replay, stdin: wantStdin });
    client.output.on('data', (b: Buffer) => socket.write(framed ? frame(1, b) : b));
    client.output.on('end', () => socket.end());
    if (wantStdin) socket.on('data', (b: Buffer) => client.write(b));
    socket.on('close', () => client.close());
    socket.on('error', () => client.close());
  }

  private events(q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    streamEvents(this.d.events, q, req, res, API_VERSION);
  }
}

function tailLines(buf: Buffer, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (buf[i] === 0x0a && ++seen === n) return buf.subarray(i + 1);
  }
  return buf;
}

