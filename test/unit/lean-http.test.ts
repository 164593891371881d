// The lean HTTP path (src/main/http/lean.ts): the hot requests answered on the socket, and any
// other request handed with its connection, and every byte not yet answered, to Node's server,
// which then serves that connection as it serves any other.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api, type HotHandler } from '../../src/main/http/api.js';
import { LeanHttp } from '../../src/main/http/lean.js';
import { EventBus } from '../../src/main/events.js';
import type { Metrics } from '../../src/main/metrics.js';
import type { Supervisor } from '../../src/main/lifecycle/supervisor.js';

/** An Api whose only hot requests are POST /hot (answers its body back) and POST /slow (a wait's early head, then `later`). */
function fakeApi(): Api & { served: string[] } {
  const served: string[] = [];
  let release: (() => void) | null = null;
  const api = {
    served,
    release: () => release?.(),
    hot(method: string, target: string): HotHandler | null {
      if (method !== 'POST') return null;
      if (target === '/hot') {
        return (body, reply) => {
          served.push('lean /hot');
          reply.send(201, { got: body() });
          return Promise.resolve();
        };
      }
      if (target === '/slow') {
        return async (_body, reply) => {
          served.push('lean /slow');
          reply.head();
          await new Promise<void>((r) => { release = r; });
          reply.end('"later"');
        };
      }
      return null;
    },
  };
  return api as unknown as Api & { served: string[] };
}

describe('lean HTTP path', () => {
  let dir: string;
  let server: Server;
  let lean: LeanHttp;
  let api: Api & { served: string[]; release?: () => void };
  let sock: string;
  const open: Socket[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-lean-'));
    sock = join(dir, 's.sock');
    api = fakeApi();
    server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
      api.served.push(`node ${req.method} ${req.url}`);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`node:${Buffer.concat(chunks).toString()}`));
    });
    server.on('upgrade', (req, s: Socket) => {
      api.served.push(`node upgrade ${req.url}`);
      s.end('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nupgraded');
    });
    const nodeConnection = server.listeners('connection')[0] as (s: Socket) => void;
    server.removeListener('connection', nodeConnection);
    lean = new LeanHttp(api, (s) => nodeConnection.call(server, s), { maxHeaderSize: 16 * 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, checkEveryMs: 1_000 });
    server.on('connection', (s: Socket) => lean.adopt(s));
    await new Promise<void>((r) => server.listen(sock, r));
  });

  afterEach(async () => {
    for (const s of open) s.destroy();
    open.length = 0;
    lean.closeAll();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A raw connection: what was written comes back as all the bytes read until `until` is in them. */
  function raw(): { send(text: string, until: string): Promise<string>; sock: Socket } {
    const s = connect(sock);
    open.push(s);
    let got = '';
    let waiting: { until: string; resolve: (t: string) => void; reject: (e: Error) => void } | null = null;
    const check = () => {
      if (waiting && got.includes(waiting.until)) {
        const w = waiting;
        waiting = null;
        const text = got;
        got = '';
        w.resolve(text);
      }
    };
    s.on('data', (c: Buffer) => { got += c.toString(); check(); });
    // A connection closed before the answer came fails the test at once rather than at its timeout.
    s.on('close', () => waiting?.reject(new Error(`closed before ${JSON.stringify(waiting.until)}; read ${JSON.stringify(got)}`)));
    return {
      sock: s,
      send(text, until) {
        return new Promise((resolve, reject) => {
          waiting = { until, resolve, reject };
          if (text) s.write(text);
          check();
        });
      },
    };
  }

  const post = (path: string, body = '', extra = '') =>
    `POST ${path} HTTP/1.1\r\nHost: skiffd\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  it('answers the hot requests itself, keeping the connection alive', async () => {
    const c = raw();
    const a = await c.send(post('/hot', '{"a":1}'), '{"got":{"a":1}}');
    expect(a).to.match(/^HTTP\/1\.1 201 Created\r\n/).and.include('Content-Length: 15\r\n').and.include('Connection: keep-alive\r\n');
    await c.send(post('/hot', '[2]'), '{"got":[2]}');
    expect(api.served).to.deep.equal(['lean /hot', 'lean /hot']);
    expect(lean.size).to.equal(1);
  });

  it('hands a connection to Node at the first request it does not take, the bytes after it included', async () => {
    const c = raw();
    await c.send(post('/hot', '1'), '{"got":1}');
    // Pipelined in one write: a request for Node, then a hot one, which Node now answers too.
    await c.send(post('/other', 'x') + post('/hot', 'y'), 'node:y');
    expect(api.served).to.deep.equal(['lean /hot', 'node POST /other', 'node POST /hot']);
    expect(lean.size).to.equal(0);
  });

  it('hands over what it does not parse: no Host, a chunked body, an upgrade, a head split across reads', async () => {
    const noHost = raw();
    expect(await noHost.send('POST /hot HTTP/1.1\r\nContent-Length: 0\r\n\r\n', '\r\n\r\n')).to.match(/^HTTP\/1\.1 400 /);
    const chunked = raw();
    await chunked.send('POST /hot HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'node:abc');
    const upgrade = raw();
    await upgrade.send('POST /hot HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n', 'upgraded');
    const split = raw();
    await split.send('POST /hot HTTP/1.1\r\nHo', '');
    await split.send('st: x\r\nContent-Length: 3\r\n\r\n[', '');
    await split.send('1]', '{"got":[1]}');
    expect(api.served).to.deep.equal(['node POST /hot', 'node upgrade /hot', 'lean /hot']);
  });

  it('sends a wait\'s early head and its chunked body later, as Node\'s client reads it', async () => {
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ socketPath: sock, method: 'POST', path: '/slow' }, resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).to.equal(200);
    expect(res.headers['transfer-encoding']).to.equal('chunked');
    const body: Buffer[] = [];
    res.on('data', (c: Buffer) => body.push(c));
    const ended = new Promise((r) => res.on('end', r));
    api.release!();
    await ended;
    expect(Buffer.concat(body).toString()).to.equal('"later"');
  });
});

/**
 * The ping, a Docker CLI's first request on each connection, as both paths answer it: the same
 * bytes (the Date's value aside), so that a change to one path's answer alone fails here.
 */
describe('lean HTTP path: the ping', () => {
  let dir: string;
  const servers: Server[] = [];
  const open: Socket[] = [];
  let lean: LeanHttp;

  /** A server of the real Api: through the lean path, or Node's server alone (skiffd --no-lean-http). */
  async function serve(name: string, withLean: boolean): Promise<string> {
    const api = new Api({ supervisor: {} as Supervisor, events: new EventBus(), metrics: {} as Metrics, consoles: null, extensions: [] });
    const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => void api.handle(req, res));
    servers.push(server);
    if (withLean) {
      const nodeConnection = server.listeners('connection')[0] as (s: Socket) => void;
      server.removeListener('connection', nodeConnection);
      lean = new LeanHttp(api, (s) => nodeConnection.call(server, s), { maxHeaderSize: 16 * 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, checkEveryMs: 1_000 });
      server.on('connection', (s: Socket) => lean.adopt(s));
    }
    const path = join(dir, name);
    await new Promise<void>((r) => server.listen(path, r));
    return path;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-lean-ping-'));
  });

  afterEach(async () => {
    for (const s of open) s.destroy();
    open.length = 0;
    lean.closeAll();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    servers.length = 0;
    rmSync(dir, { recursive: true, force: true });
  });

  /** What `requests` (written at once, pipelined) bring back on a new connection, until `answers` heads and the bodies their Content-Length says. */
  function exchange(path: string, requests: string, answers: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      open.push(s);
      let got = '';
      const whole = (): boolean => {
        let at = 0;
        for (let n = 0; n < answers; n++) {
          const end = got.indexOf('\r\n\r\n', at);
          if (end < 0) return false;
          const head = got.slice(at, end);
          const length = /\r\nContent-Length: (\d+)\r\n/i.exec(`${head}\r\n`);
          // A HEAD's answer has no body, whatever its length says.
          at = end + 4 + (length !== null && !requests.startsWith('HEAD') ? Number(length[1]) : 0);
          if (got.length < at) return false;
        }
        return true;
      };
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (whole()) resolve(got);
      });
      s.on('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
      s.write(requests);
    });
  }

  const dated = (text: string) => text.replace(/\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/g, '\r\nDate: (now)\r\n');

  for (const [what, requests, answers] of [
    ['GET /_ping', 'GET /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n', 1],
    ['HEAD /_ping', 'HEAD /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n', 1],
    ['a versioned ping with a query', 'GET /v1.41/_ping?x=1 HTTP/1.1\r\nHost: skiffd\r\n\r\n', 1],
    ['two HEADs pipelined on one connection', 'HEAD /v1.47/_ping HTTP/1.1\r\nHost: skiffd\r\nConnection: keep-alive\r\n\r\nHEAD /_ping HTTP/1.1\r\nHost: skiffd\r\n\r\n', 2],
    ['two GETs pipelined on one connection', 'GET /_ping HTTP/1.1\r\nHost: skiffd\r\n\r\nGET /_ping HTTP/1.1\r\nHost: skiffd\r\n\r\n', 2],
  ] as const) {
    it(`answers ${what} as Node's server does, byte for byte, and keeps the connection`, async () => {
      const viaNode = await exchange(await serve('node.sock', false), requests, answers);
      const viaLean = await exchange(await serve('lean.sock', true), requests, answers);
      expect(viaNode).to.match(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nDate: /);
      expect(dated(viaLean)).to.equal(dated(viaNode));
      // The lean path answered it, and still serves the connection.
      expect(lean.size).to.equal(1);
    });
  }
});
