// The lean HTTP path: the requests a bulk client sends for every container (`docker run --rm`'s
// create, wait and start) parsed and answered on the connection's socket itself, without Node's
// HTTP server. Per container, Node's server cost skiffd about a sixth of its main thread (llhttp's
// callbacks, an IncomingMessage and a ServerResponse per request with their streams, the headers'
// objects, a timer per request); this path reads the head as one string and writes each answer
// (head and body) in one write.
//
// It takes only what it is sure of: an HTTP/1.1 POST that Api.hot() routes, with a Host, a
// Content-Length body (or none) within the body limit, or a GET or HEAD /_ping without a body
// (a Docker CLI's first request on each of its connections), and none of Transfer-Encoding, Upgrade,
// Expect or `Connection: close`, header names and values of plain characters. Anything else —
// an upgrade (attach), a chunked body, an unusual header, any other path, a head that is not
// whole within the header limit — hands the connection, with every byte read and not yet
// answered, to Node's server, which serves it from there on as it serves any connection (so
// its parser, limits and error answers apply exactly as before). A connection is handed over
// only between answers, never with one in flight.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Api } from './api.js';
import { MAX_BODY_BYTES, parseJsonBody } from './body.js';
import { API_VERSION, type Reply } from './respond.js';

export interface LeanOptions {
  /** a head longer than this goes to Node's server (which answers 431) */
  maxHeaderSize: number;
  /** from a request's first byte to its head's end, at most; then the connection is closed */
  headersTimeoutMs: number;
  /** from a request's first byte to its body's end, at most */
  requestTimeoutMs: number;
  /** an idle connection between requests is closed after this */
  keepAliveTimeoutMs: number;
  /** how often the deadlines are checked */
  checkEveryMs: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
/** The methods of the requests this path may take: anything else goes to Node's server before its head is whole. */
const METHODS = [Buffer.from('POST '), Buffer.from('GET '), Buffer.from('HEAD ')];

/** Whether `buf` starts with one of METHODS, or is the start of one. */
function mayBeHot(buf: Buffer): boolean {
  for (const m of METHODS) {
    const n = Math.min(buf.length, m.length);
    if (buf.compare(m, 0, n, 0, n) === 0) return true;
  }
  return false;
}
/** A request line this path takes: the method, an origin-form target of printable ASCII, HTTP/1.1. */
const REQUEST_LINE = /^([A-Z]+) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** A header line of a token name and a value of visible ASCII, spaces and tabs (no obs-fold, no control bytes). */
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x20-\x7e\t]*?)[ \t]*$/;

interface Head {
  method: string;
  target: string;
  /** the body's length, 0 without one */
  length: number;
}

/** The head this path takes, or null for Node's server. */
function parseHead(text: string): Head | null {
  const lines = text.split('\r\n');
  const first = REQUEST_LINE.exec(lines[0]!);
  if (first === null) return null;
  let length = -1;
  let host = false;
  for (let i = 1; i < lines.length; i++) {
    const h = HEADER_LINE.exec(lines[i]!);
    if (h === null) return null;
    switch (h[1]!.toLowerCase()) {
      case 'content-length':
        if (length >= 0 || !/^\d{1,9}$/.test(h[2]!)) return null;
        length = Number(h[2]);
        break;
      case 'host':
        if (host) return null;
        host = true;
        break;
      case 'transfer-encoding': case 'upgrade': case 'expect': case 'http2-settings':
        return null;
      case 'connection':
        if (!/^keep-alive$/i.test(h[2]!)) return null;
        break;
      default:
    }
  }
  // Node's server refuses an HTTP/1.1 request without a Host (400): it answers those.
  if (!host) return null;
  return { method: first[1]!, target: first[2]!, length: Math.max(length, 0) };
}

/** Node's Date header, made once a second. */
let dateText = '';
let dateSecond = -1;
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

export class LeanHttp {
  private readonly conns = new Set<LeanConnection>();
  private readonly checker: NodeJS.Timeout;
  /** what every answer's head ends with: the connection kept alive, as Node's server says it */
  readonly headTail: string;

  /**
   * @param handOff serves a connection through Node's server from here on (its 'connection' listener)
   */
  constructor(readonly api: Api, readonly handOff: (sock: Socket) => void, readonly opts: LeanOptions) {
    this.headTail = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(opts.keepAliveTimeoutMs / 1000)}\r\n\r\n`;
    this.checker = setInterval(() => this.expire(), opts.checkEveryMs);
    this.checker.unref();
  }

  /** A new connection, served here until something arrives that only Node's server serves. */
  adopt(sock: Socket): void {
    this.conns.add(new LeanConnection(this, sock));
  }

  forget(conn: LeanConnection): void {
    this.conns.delete(conn);
  }

  /** How many connections this path serves now (tests). */
  get size(): number {
    return this.conns.size;
  }

  /** Every connection still served here closed (the daemon's close: Node's server closes its own). */
  closeAll(): void {
    clearInterval(this.checker);
    for (const c of this.conns) c.sock.destroy();
    this.conns.clear();
  }

  private expire(): void {
    const now = Date.now();
    for (const c of this.conns) if (now > c.deadline) c.expired();
  }
}

class LeanConnection {
  /** bytes read and not yet answered */
  private buf: Buffer | null = null;
  /** a request is being answered: the next waits in `buf` */
  private busy = false;
  /** the client ended its side: the socket ends once the answer in flight is out */
  private ended = false;
  /** when the connection is closed unless something happens: idle or a request arriving slowly */
  deadline: number;
  /** a request is due by the deadline (a 408 then, as Node's server answers), or the connection is idle between requests (closed) */
  private due = true;
  /** when the first byte of the request being read came */
  private since = 0;
  private readonly onData = (chunk: Buffer): void => this.data(chunk);
  private readonly onEnd = (): void => {
    this.ended = true;
    if (!this.busy) this.sock.end();
  };
  private readonly onClose = (): void => this.lean.forget(this);
  // An error (a reset by the client) destroys the socket; 'close' follows.
  private readonly onError = (): void => undefined;

  constructor(private readonly lean: LeanHttp, readonly sock: Socket) {
    // As Node's server counts it: a new connection is a request whose head is due.
    this.deadline = Date.now() + lean.opts.headersTimeoutMs;
    sock.on('data', this.onData);
    sock.on('end', this.onEnd);
    sock.on('close', this.onClose);
    sock.on('error', this.onError);
  }

  private data(chunk: Buffer): void {
    if (this.buf === null) {
      this.buf = chunk;
      if (!this.busy) this.reading();
    } else {
      this.buf = Buffer.concat([this.buf, chunk]);
    }
    if (!this.busy) this.next();
    // A client sending on and on while its answer is in flight: no request is that long.
    else if (this.buf.length > this.lean.opts.maxHeaderSize + MAX_BODY_BYTES) this.sock.destroy();
  }

  /** The next request in `buf`, if it is whole: answered here, or the connection handed to Node's server. */
  private next(): void {
    const buf = this.buf;
    if (buf === null) return;
    if (!mayBeHot(buf)) {
      this.handOff();
      return;
    }
    const end = buf.indexOf(HEAD_END);
    if (end < 0) {
      if (buf.length > this.lean.opts.maxHeaderSize) this.handOff();
      return;
    }
    const head = end > this.lean.opts.maxHeaderSize ? null : parseHead(buf.toString('latin1', 0, end));
    // A body is a POST's only (a GET or HEAD with one is Node's to read and drop).
    const handler = head === null || head.length > (head.method === 'POST' ? MAX_BODY_BYTES : 0) ? null : this.lean.api.hot(head.method, head.target);
    if (handler === null) {
      this.handOff();
      return;
    }
    const bodyAt = end + HEAD_END.length;
    const total = bodyAt + head!.length;
    if (buf.length < total) {
      this.deadline = this.since + this.lean.opts.requestTimeoutMs; // the body is still coming
      return;
    }
    const body = buf.subarray(bodyAt, total);
    this.buf = buf.length === total ? null : buf.subarray(total);
    this.busy = true;
    this.deadline = Infinity; // an answer may take as long as a container runs (a wait)
    void handler(() => parseJsonBody(body.toString('utf8')), new LeanReply(this.lean, this));
  }

  write(text: string): void {
    if (!this.sock.destroyed) this.sock.write(text);
  }

  /** The answer in flight is out: the next request, or idle. */
  answered(): void {
    this.busy = false;
    if (this.ended) {
      this.sock.end();
      return;
    }
    if (this.buf === null) {
      this.due = false;
      this.deadline = Date.now() + this.lean.opts.keepAliveTimeoutMs;
      return;
    }
    this.reading();
    this.next();
  }

  /** A request's first bytes are here: its head is due within the headers' timeout. */
  private reading(): void {
    this.due = true;
    this.since = Date.now();
    this.deadline = this.since + this.lean.opts.headersTimeoutMs;
  }

  /** The deadline passed: a request not whole in time is answered 408 as Node's server answers it; an idle connection is closed. */
  expired(): void {
    this.lean.forget(this);
    this.deadline = Infinity;
    if (!this.due || !this.sock.writable) {
      this.sock.destroy();
      return;
    }
    this.sock.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => this.sock.destroy());
  }

  /** From here on, Node's server serves this connection, starting with the bytes not yet answered. */
  private handOff(): void {
    const sock = this.sock;
    this.lean.forget(this);
    sock.pause();
    sock.removeListener('data', this.onData);
    sock.removeListener('end', this.onEnd);
    sock.removeListener('close', this.onClose);
    sock.removeListener('error', this.onError);
    if (this.buf !== null) sock.unshift(this.buf);
    this.buf = null;
    this.lean.handOff(sock);
    // Node's server listens for 'data' now; the bytes unshifted come first, on the next tick,
    // before anything the socket reads after them.
    sock.resume();
  }
}

/** One answer on a lean connection: each write is a whole answer, or a head, or a body's end. */
class LeanReply implements Reply {
  private headSent = false;
  private done = false;

  constructor(private readonly lean: LeanHttp, private readonly conn: LeanConnection) {}

  send(status: number, body?: unknown): void {
    if (this.done) return;
    if (this.headSent) {
      // As respond.ts's send() after the headers went out: the answer ends as it is.
      this.end('');
      return;
    }
    if (body !== undefined) {
      this.json(status, JSON.stringify(body));
    } else {
      this.finish(this.headOf(status, status === 204 || status === 304 ? '' : 'Content-Length: 0\r\n'));
    }
  }

  head(): void {
    if (this.done || this.headSent) return;
    this.headSent = true;
    this.conn.write(this.headOf(200, 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n'));
  }

  end(text: string): void {
    if (this.done) return;
    if (!this.headSent) {
      this.headSent = true;
      this.json(200, text);
      return;
    }
    this.finish(text === '' ? '0\r\n\r\n' : `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n0\r\n\r\n`);
  }

  text(status: number, fields: Readonly<Record<string, string>>, body: string): void {
    if (this.done || this.headSent) return;
    this.headSent = true;
    let lines = '';
    for (const name in fields) lines += `${name}: ${fields[name]}\r\n`;
    this.finish(`${this.headOf(status, lines)}${body}`);
  }

  /** A whole answer with a JSON body of `text`. */
  private json(status: number, text: string): void {
    this.finish(`${this.headOf(status, `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n`)}${text}`);
  }

  /** An answer's head: its status line, `fields` (each ending in CRLF), and the headers every answer has. */
  private headOf(status: number, fields: string): string {
    return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n${fields}Api-Version: ${API_VERSION}\r\nDate: ${httpDate()}\r\n${this.lean.headTail}`;
  }

  private finish(text: string): void {
    this.done = true;
    this.conn.write(text);
    this.conn.answered();
  }
}
