// The one HTTP client for skiffd's unix socket, used by the CLI, the benchmarks and the tests.
// It only speaks HTTP: starting a daemon, turning error statuses into exceptions and
// retrying are the caller's policy. Each request gets its own connection (agent: false)
// unless the caller brings a keep-alive agent (`skiff bench`, a bulk client): by default
// nothing is left open to keep a short-lived CLI alive or to show up in skiffd's fd table
// after the answer.
import { request as httpRequest, type Agent, type RequestOptions as HttpRequestOptions, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export interface RequestOptions {
  /** Sent as JSON (Content-Type application/json). */
  body?: unknown;
  /** Sent as it is, instead of `body` (a test's malformed JSON, a fleet file's text). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Streamed as the body instead (a `skiff load` archive), chunked. */
  upload?: NodeJS.ReadableStream;
  /** Aborts the request (and a streamed answer): the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** Connections to reuse (a keep-alive agent); default: a connection of its own. */
  agent?: Agent;
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text. */
  text: string;
  /** The body parsed as JSON when it is JSON, else the text; null when empty. */
  body: unknown;
}

function send(socketPath: string, method: string, path: string, o: RequestOptions, extra: Record<string, string> = {}): ClientRequest {
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  // No TLS here, so no server name: without one, Node's agent works it out for each connection
  // with net.isIP(), whose first call compiles a large IPv6 regex (~10 ms of a quick command's
  // start-up). `servername` is an option of the agent that @types/node's RequestOptions omits.
  const options: HttpRequestOptions & { servername: string } = {
    socketPath,
    servername: '',
    method,
    path,
    agent: o.agent ?? false,
    ...(o.signal ? { signal: o.signal } : {}),
    headers: {
      ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }),
      ...extra,
      ...o.headers,
    },
  };
  const req = httpRequest(options);
  if (o.upload) {
    o.upload.on('error', (err: Error) => req.destroy(err));
    o.upload.pipe(req);
    return req;
  }
  return req.end(payload);
}

/** What failed, where: `GET /containers/json on /run/skiff/skiff.sock: connect ENOENT`. */
function failed(socketPath: string, method: string, path: string, err: Error): Error {
  if (err.name === 'AbortError') return err;
  const e = new Error(`${method} ${path.slice(0, 200)} on ${socketPath}: ${err.message}`, { cause: err });
  // Callers decide on the errno (ENOENT, ECONNREFUSED: nothing listens), so it stays on the error.
  return Object.assign(e, { code: (err as NodeJS.ErrnoException).code });
}

/** Sends a request and returns the response as it starts, for the caller to read (logs, events, a wait). */
export function open(socketPath: string, method: string, path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = send(socketPath, method, path, o);
    req.on('response', resolve);
    req.on('error', (err) => reject(failed(socketPath, method, path, err)));
  });
}

export async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** JSON when it parses (skiffd's answers and errors are JSON), the text otherwise (`/_ping`'s OK). */
export function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** One request, its whole answer read: any status is an answer, only a failed connection rejects. */
export async function request(socketPath: string, method: string, path: string, o: RequestOptions = {}): Promise<HttpReply> {
  const res = await open(socketPath, method, path, o);
  const text = (await readAll(res)).toString('utf8');
  return { status: res.statusCode ?? 0, headers: res.headers, text, body: parseBody(text) };
}

/**
 * Docker's attach: an HTTP upgrade that leaves a raw two-way byte stream. A plain answer
 * instead of the upgrade (an error, or a daemon without consoles) comes back as `refused`.
 */
export function upgrade(socketPath: string, path: string, o: RequestOptions = {}): Promise<
  { socket: Socket; head: Buffer; contentType: string; refused?: undefined } | { refused: HttpReply }
> {
  return new Promise((resolve, reject) => {
    const req = send(socketPath, 'POST', path, o, { Connection: 'Upgrade', Upgrade: 'tcp' });
    req.on('upgrade', (res, socket, head) => resolve({ socket, head, contentType: String(res.headers['content-type'] ?? '') }));
    req.on('response', (res) => {
      readAll(res).then((buf) => {
        const text = buf.toString('utf8');
        resolve({ refused: { status: res.statusCode ?? 0, headers: res.headers, text, body: parseBody(text) } });
      }, reject);
    });
    req.on('error', (err) => reject(failed(socketPath, 'POST', path, err)));
  });
}
