// The container endpoints that stream: wait (headers now, body at the exit), logs (the ring or
// the log file, or follow), attach (a hijacked connection: Docker's 8-byte frames without a
// TTY, raw bytes with one) and the event stream.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { streamEvents } from '../docker/events.js';
import type { EventBus } from '../events.js';
import { consoleLogPath } from '../lifecycle/console-holds.js';
import { InvalidArgument, Unsupported } from '../lifecycle/errors.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import { isActive } from '../lifecycle/states.js';
import { WAIT_CONDITIONS, type Supervisor } from '../lifecycle/supervisor.js';
import { flag, integer, oneOf } from './query.js';
import { API_VERSION, frame } from './respond.js';

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

export class ContainerStreams {
  constructor(private readonly sup: Supervisor, private readonly consoles: ConsoleAccess | null, private readonly eventBus: EventBus) {}

  private consoleAccess(): ConsoleAccess {
    if (!this.consoles) throw new Unsupported('this skiffd has no console forwarder');
    return this.consoles;
  }

  async wait(ref: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const sup = this.sup;
    sup.get(ref); // 404 before the headers go out
    const condition = oneOf(q, 'condition', WAIT_CONDITIONS, 'not-running');
    // Docker answers the headers at once and the body when the condition is met.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
    res.flushHeaders();
    const r = await sup.wait(ref, condition);
    res.end(JSON.stringify({ StatusCode: r.exitCode ?? 0, Error: r.error ? { Message: r.error } : null }));
  }

  async logs(ref: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const r = this.sup.get(ref);
    const consoles = this.consoleAccess();
    const framed = !r.spec.tty;
    const follow = flag(q, 'follow') && isActive(r);
    res.writeHead(200, { 'Content-Type': framed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream', 'Api-Version': API_VERSION });
    const out = (b: Buffer) => res.write(framed ? frame(1, b) : b);
    if (!follow) {
      let data = q.get('source') === 'file' ? await this.logFile(r) : await consoles.ring(r.id).catch(() => Buffer.alloc(0));
      const tail = q.get('tail') === 'all' ? undefined : integer(q, 'tail', 0);
      if (tail !== undefined) data = tailLines(data, tail);
      if (data.length) out(data);
      res.end();
      return;
    }
    const client = await consoles.attach(r.id, { replay: true, stdin: false });
    client.output.on('data', (b: Buffer) => out(b));
    client.output.on('end', () => res.end());
    res.on('close', () => client.close());
  }

  /** skiff's own: the whole console log (the rotated file, then the current one) instead of the ring. */
  private async logFile(r: ContainerRecord): Promise<Buffer> {
    const path = consoleLogPath(r.spec, this.sup.stateDir(r.name));
    if (path === null) throw new InvalidArgument(`${r.name} keeps no console log file (console.log is off); its ring is what \`logs\` shows`);
    const parts = await Promise.all([`${path}.1`, path].map((p) => readFile(p).catch(() => Buffer.alloc(0))));
    return Buffer.concat(parts);
  }

  async attach(ref: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = this.sup.get(ref);
    const consoles = this.consoleAccess();
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
    res.writeHead = (() => res);
    res.end = (() => res) as never;
    const client = await consoles.attach(r.id, { replay, stdin: wantStdin });
    client.output.on('data', (b: Buffer) => socket.write(framed ? frame(1, b) : b));
    client.output.on('end', () => socket.end());
    if (wantStdin) socket.on('data', (b: Buffer) => client.write(b));
    socket.on('close', () => client.close());
    socket.on('error', () => client.close());
  }

  events(q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    streamEvents(this.eventBus, q, req, res, API_VERSION);
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

