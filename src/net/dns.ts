// The embedded DNS server of one network: UDP on the network's gateway address, port 53.
// A name skiffd knows (a running container, an alias, a fleet's service) is answered here with
// TTL 0, so a stopped container leaves the answer at once; everything else is forwarded as is
// to the upstream resolvers (the host's /etc/resolv.conf, read once when skiffd starts).
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import * as packet from 'dns-packet';

/** The addresses for a name asked by `client` (rotated by the caller for round-robin), or null: not a name of ours. */
export type Lookup = (name: string, client: string) => string[] | null;

const FORWARD_TIMEOUT_MS = 3000;

/** The IPv4 nameservers of a resolv.conf; a file that cannot be read has none. */
export function upstreamsFrom(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((a): a is string => a !== undefined && isIPv4(a));
}

export class DnsServer {
  private readonly sock: Socket;

  private constructor(sock: Socket, private readonly lookup: Lookup, private readonly upstreams: readonly string[]) {
    this.sock = sock;
    sock.on('message', (msg, rinfo) => this.answer(msg, rinfo.address, rinfo.port));
  }

  /** Binds address:port; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL) named. */
  static async listen(address: string, port: number, lookup: Lookup, upstreams: readonly string[]): Promise<DnsServer> {
    const sock = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`DNS: bind ${address}:${port}/udp: ${err.code ?? err.message}`, { cause: err })));
      sock.bind(port, address, () => resolve());
    });
    sock.on('error', () => undefined); // a send to a client that went away: nothing to do
    return new DnsServer(sock, lookup, upstreams);
  }

  private answer(msg: Buffer, address: string, port: number): void {
    let query: packet.Packet;
    try {
      query = packet.decode(msg);
    } catch {
      return; // not DNS: no answer, as a resolver does
    }
    const q = query.questions?.[0];
    const name = q?.name.replace(/\.$/, '').toLowerCase();
    const found = name === undefined ? null : this.lookup(name, address);
    if (q === undefined || found === null) {
      this.forward(msg, query, address, port);
      return;
    }
    // A name of ours: A records (none for a known name with no running container, NOERROR as
    // Docker answers); other types get an empty answer rather than a forward that would leak the name.
    const answers = q.type === 'A' ? found.map((data) => ({ type: 'A' as const, name: q.name, ttl: 0, class: 'IN' as const, data })) : [];
    this.reply(packet.encode({ id: query.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | packet.AUTHORITATIVE_ANSWER, questions: [q], answers }), address, port);
  }

  private forward(msg: Buffer, query: packet.Packet, address: string, port: number): void {
    const fail = (): void => this.reply(packet.encode({ id: query.id, type: 'response', flags: packet.RECURSION_AVAILABLE | 2 /* SERVFAIL */, questions: query.questions ?? [] }), address, port);
    const upstream = this.upstreams[0];
    if (upstream === undefined) return fail();
    const out = createSocket({ type: 'udp4' });
    const timer = setTimeout(() => { out.close(); fail(); }, FORWARD_TIMEOUT_MS);
    out.on('error', () => { clearTimeout(timer); out.close(); fail(); });
    out.on('message', (reply) => {
      clearTimeout(timer);
      out.close();
      this.reply(reply, address, port);
    });
    out.send(msg, 53, upstream);
  }

  private reply(buf: Buffer, address: string, port: number): void {
    this.sock.send(buf, port, address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}
