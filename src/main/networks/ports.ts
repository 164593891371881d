// Published ports: the host side of `-p [IP:]HOSTPORT:CONTAINERPORT[/udp]`.
//
// Traffic from elsewhere to a host address is DNAT'd to the container by nftables (src/net/nft.ts):
// it keeps its source address and never passes through skiffd. Connections from the host to
// 127.0.0.1 cannot be DNAT'd without net.ipv4.conf.*.route_localnet=1, which would let packets
// addressed to 127/8 in from outside on that interface; skiffd proxies those instead, as Docker's
// userland proxy does. The proxy's listening socket is also the port's reservation: a port some
// other process holds fails here, at create, with EADDRINUSE named (a Conflict), before any rule.
// A UDP port's bound socket is its reservation and its loopback proxy (udp-proxy.ts).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { PortSpec } from '../../spec/container.js';
import { Conflict, Unavailable } from '../lifecycle/errors.js';
import { UdpProxy } from './udp-proxy.js';

type Holder = { kind: 'tcp'; server: Server; open: Set<Socket> } | { kind: 'udp'; socket: UdpSocket; proxy: UdpProxy };

export const portLabel = (p: PortSpec): string => `${p.hostIp === '0.0.0.0' ? '' : `${p.hostIp}:`}${p.hostPort}/${p.proto}`;

export class PortPublisher {
  /** `hostPort/proto` → the container holding it and what holds the socket */
  private readonly held = new Map<string, { container: string; holders: Holder[] }>();

  /** Who holds a host port in skiffd's own table, if anyone (any host address: one port, one container). */
  holder(p: PortSpec): string | null {
    return this.held.get(`${p.hostPort}/${p.proto}`)?.container ?? null;
  }

  /** Binds every port of a container, or none: a failure releases those already bound. */
  async publish(container: string, ports: readonly PortSpec[], target: () => string): Promise<void> {
    const done: PortSpec[] = [];
    try {
      for (const p of ports) {
        const other = this.holder(p);
        if (other !== null) throw new Conflict(`port ${portLabel(p)} is already published by container ${other}`, { port: portLabel(p) });
        this.held.set(`${p.hostPort}/${p.proto}`, { container, holders: [await bind(p, target)] });
        done.push(p);
      }
    } catch (err) {
      await this.release(done);
      throw err;
    }
  }

  /** The container holding ports has a new name (for the messages that name it). */
  renamed(oldName: string, newName: string): void {
    for (const h of this.held.values()) if (h.container === oldName) h.container = newName;
  }

  async release(ports: readonly PortSpec[]): Promise<void> {
    for (const p of ports) {
      const h = this.held.get(`${p.hostPort}/${p.proto}`);
      if (!h) continue;
      this.held.delete(`${p.hostPort}/${p.proto}`);
      await Promise.all(h.holders.map(close));
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.held.values()].flatMap((h) => h.holders);
    this.held.clear();
    await Promise.all(all.map(close));
  }
}

function bindError(p: PortSpec, err: NodeJS.ErrnoException): Error {
  if (err.code === 'EADDRINUSE') return new Conflict(`port ${portLabel(p)} is already in use on the host: bind ${p.hostIp}:${p.hostPort}/${p.proto}: EADDRINUSE`, { port: portLabel(p) });
  return new Unavailable(`publish port ${portLabel(p)}: bind ${p.hostIp}:${p.hostPort}/${p.proto}: ${err.code ?? err.message}`);
}

/** The proxy (tcp) or reservation (udp) socket of one port. `target` names the container's address at connect time. */
async function bind(p: PortSpec, target: () => string): Promise<Holder> {
  if (p.proto === 'udp') {
    const socket = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(bindError(p, err)));
      socket.bind(p.hostPort, p.hostIp, () => resolve());
    });
    // Only datagrams nftables did not DNAT arrive here: those to 127.0.0.1, which the proxy forwards.
    return { kind: 'udp', socket, proxy: new UdpProxy(socket, p.containerPort, target) };
  }
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: target(), port: p.containerPort });
    open.add(client);
    open.add(upstream);
    client.on('close', () => open.delete(client));
    upstream.on('close', () => open.delete(upstream));
    client.pipe(upstream).pipe(client);
    const end = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(bindError(p, err)));
    server.listen({ port: p.hostPort, host: p.hostIp, exclusive: true }, () => resolve());
  });
  return { kind: 'tcp', server, open };
}

function close(h: Holder): Promise<void> {
  return new Promise((resolve) => {
    // A released port's connections end with it: close() alone would wait for them.
    if (h.kind === 'tcp') {
      h.server.close(() => resolve());
      for (const s of h.open) s.destroy();
    }
    else {
      h.proxy.close();
      h.socket.close(() => resolve());
    }
  });
}
