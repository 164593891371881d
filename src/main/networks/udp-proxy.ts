// The loopback proxy of a published UDP port: datagrams to 127.0.0.1:HOSTPORT reach the container
// (nftables DNATs every other address; loopback it cannot without route_localnet, see ports.ts).
//
//   client 127.0.0.1:P ──▶ bound socket HOSTIP:HOSTPORT ──▶ the flow's own socket ──▶ container:PORT
//   client 127.0.0.1:P ◀── bound socket (same source)   ◀── the flow's own socket ◀── container:PORT
//
// UDP has no connection, so a flow is a client's address and port: it gets a socket of its own
// towards the container, so that each reply goes back to the client that asked, from the address
// the client sent to. A flow ends after a minute without traffic either way. At most 1024 flows
// are open at once; a datagram that would need one more is dropped (UDP may lose it anyway),
// so a flood of source ports cannot run skiffd out of fds.
import { createSocket, type Socket } from 'node:dgram';

const FLOW_IDLE_MS = 60_000;
export const MAX_FLOWS = 1024;

interface Flow { socket: Socket; timer: NodeJS.Timeout }

export class UdpProxy {
  private readonly flows = new Map<string, Flow>();

  /** `bound`: the port's reservation socket, already bound; `target` names the container's address now. */
  constructor(private readonly bound: Socket, private readonly containerPort: number, private readonly target: () => string) {
    bound.on('message', (msg, from) => this.forward(msg, from.address, from.port));
  }

  get openFlows(): number {
    return this.flows.size;
  }

  private forward(msg: Buffer, address: string, port: number): void {
    const key = `${address}:${port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      if (this.flows.size >= MAX_FLOWS) return;
      const socket = createSocket({ type: 'udp4' });
      const timer = setTimeout(() => this.end(key), FLOW_IDLE_MS).unref();
      const made: Flow = { socket, timer };
      socket.on('message', (reply, from) => {
        // Only the container's answers travel back; anything else sent to this port is not the flow's.
        if (from.address !== this.target() || from.port !== this.containerPort) return;
        made.timer.refresh();
        this.bound.send(reply, port, address);
      });
      socket.on('error', () => this.end(key));
      this.flows.set(key, made);
      flow = made;
    }
    flow.timer.refresh();
    flow.socket.send(msg, this.containerPort, this.target());
  }

  private end(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    this.flows.delete(key);
    clearTimeout(flow.timer);
    flow.socket.close();
  }

  /** Ends every flow (the port is being released). */
  close(): void {
    for (const key of [...this.flows.keys()]) this.end(key);
  }
}
