// A front for a test registry on 127.0.0.1 that the test controls: it passes every request on
// to the real registry and records it, and can hold a blob half sent until the test releases
// it (a pull paused at a known point, with no timing involved).
import { createServer, type Server, type ServerResponse } from 'node:http';

export interface Held {
  /** resolves once the first half of the blob has been written to the client */
  halfSent: Promise<void>;
  /** sends the rest (if the client is still there) */
  release(): void;
}

export class RegistryFront {
  private server: Server | null = null;
  /** `GET /v2/…` of every request, in order */
  readonly requests: string[] = [];
  private readonly holds = new Map<string, { half: () => void; gate: Promise<void>; open: () => void }>();
  host = '';

  constructor(private readonly upstream: () => string) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      void this.pass(req.method ?? 'GET', req.url ?? '/', req.headers, res).catch((err: Error) => res.destroy(err));
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const h of this.holds.values()) h.open();
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  /** How many GETs of a blob reached the registry. */
  blobGets(digest: string): number {
    return this.requests.filter((r) => r.startsWith('GET ') && r.endsWith(`/blobs/${digest}`)).length;
  }

  /** The next GET of this blob sends half its bytes, then waits for release(). */
  hold(digest: string): Held {
    let half!: () => void;
    let open!: () => void;
    const halfSent = new Promise<void>((r) => { half = r; });
    const gate = new Promise<void>((r) => { open = r; });
    this.holds.set(digest, { half, gate, open });
    return { halfSent, release: open };
  }

  private async pass(method: string, url: string, headers: Record<string, string | string[] | undefined>, res: ServerResponse): Promise<void> {
    const fwd: Record<string, string> = {};
    for (const k of ['accept', 'authorization']) if (typeof headers[k] === 'string') fwd[k] = headers[k];
    const up = await fetch(`http://${this.upstream()}${url}`, { method, headers: fwd, redirect: 'follow' });
    const keep = ['content-type', 'content-length', 'docker-content-digest', 'www-authenticate', 'docker-distribution-api-version'];
    res.writeHead(up.status, Object.fromEntries([...up.headers].filter(([k]) => keep.includes(k))));
    const body = Buffer.from(await up.arrayBuffer());
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url)?.[1];
    const hold = digest !== undefined && method === 'GET' ? this.holds.get(digest) : undefined;
    if (!hold) {
      res.end(body);
      return;
    }
    this.holds.delete(digest!);
    const mid = Math.floor(body.length / 2);
    await new Promise<void>((r) => res.write(body.subarray(0, mid), () => r()));
    hold.half();
    await hold.gate;
    if (!res.destroyed) res.end(body.subarray(mid));
  }
}
