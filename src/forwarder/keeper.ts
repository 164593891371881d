// The keeper: one process per state directory (`skiff-keeper`) that holds every console's
// forwarder threads, so that a container's stdout, stderr and pty keep their reader (and its
// ring and log) when skiffd crashes or stops. skiffd connects to its socket; the keeper
// relays skiffd's requests to its threads (pool.ts) and their replies back.
//
//   skiffd ──socket (wire.ts)──▶ Keeper ──MessagePort──▶ skiff-fwd-N (loop.ts, as in skiffd before)
//
// One skiffd at a time. A request's seq is the keeper's own on the way to a thread, so a
// reply meant for a skiffd that has died is never taken for an answer by the next one.
// Fds that a reply names (a pipe console's container ends, a client's read end) stay open
// here until skiffd says `taken`, or are closed when skiffd goes away without taking them.
//
// It ends when nothing is left to keep and no skiffd is there: no connection, the pipe from
// the skiffd that started it closed (that skiffd has exited), and every console's sources at
// end of file (every container that had one has exited).
import type { Server, Socket } from 'node:net';
import { close, peerCredentials } from '../sys/libc.js';
import { ForwarderPool, type PoolOptions } from './pool.js';
import type { Reply, Request } from './protocol.js';
import { encodeFrame, FrameDecoder, FrameWriter, KEEPER_PROTOCOL } from './wire.js';

interface Route {
  conn: Socket;
  seq: number;
}

export class Keeper {
  private readonly pool: ForwarderPool;
  private conn: Socket | null = null;
  /** conn's frames, each iteration's in one write */
  private writer: FrameWriter | null = null;
  /** the skiffd that started this keeper still runs (its end of our fd 3 is open) */
  private spawner: boolean;
  /** consoles whose sources have not all ended */
  private readonly live = new Set<string>();
  /** fds named in a reply that skiffd has not taken yet */
  private readonly handover = new Set<number>();
  private readonly routes = new Map<number, Route>();
  /** open requests in flight: keeper seq → console id */
  private readonly opening = new Map<number, string>();
  private seq = 0;
  private ending = false;

  constructor(options: PoolOptions, private readonly server: Server, spawner: boolean, private readonly onEnd: () => void) {
    this.spawner = spawner;
    this.pool = new ForwarderPool(options, (reply) => this.fromPool(reply));
    server.on('connection', (sock: Socket) => this.accept(sock));
  }

  /** The skiffd that started this keeper has exited. */
  spawnerGone(): void {
    this.spawner = false;
    this.maybeEnd();
  }

  private accept(sock: Socket): void {
    if (!trusted(sock)) {
      sock.destroy();
      return;
    }
    if (this.conn !== null || this.ending) {
      sock.end(encodeFrame({ refused: this.ending ? 'the keeper is ending' : 'another skiffd is connected to this keeper' }));
      return;
    }
    this.conn = sock;
    const writer = new FrameWriter(sock);
    this.writer = writer;
    const decoder = new FrameDecoder('skiffd → keeper');
    let greeted = false;
    sock.on('data', (b: Buffer) => {
      try {
        decoder.push(b, (m) => {
          if (greeted) return this.fromSkiffd(sock, m as Request);
          greeted = true;
          const version = (m as { hello?: unknown }).hello;
          if (version !== KEEPER_PROTOCOL) {
            sock.end(encodeFrame({ refused: `keeper protocol ${KEEPER_PROTOCOL}, skiffd speaks ${String(version)}` }));
            return;
          }
          writer.write({ hello: KEEPER_PROTOCOL, pid: process.pid });
        });
      } catch (err) {
        process.stderr.write(`skiff-keeper: ${(err as Error).message}; closing the connection\n`);
        sock.destroy();
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.lost(sock));
  }

  private fromSkiffd(sock: Socket, m: Request | { type: 'taken'; fds: number[] }): void {
    if (m.type === 'taken') {
      // Only fds this keeper handed over: a number skiffd got wrong must never close another fd.
      for (const fd of m.fds) if (this.handover.delete(fd)) close(fd);
      return;
    }
    if ('seq' in m) {
      const seq = ++this.seq;
      this.routes.set(seq, { conn: sock, seq: m.seq });
      if (m.type === 'open') this.opening.set(seq, m.id);
      m = { ...m, seq };
    }
    this.pool.send(m);
  }

  private fromPool(reply: Reply): void {
    // What the keeper itself keeps track of: live consoles, and fds it hands over.
    if (reply.type === 'opened') {
      this.live.add(this.opening.get(reply.seq)!);
      if (reply.pipes) for (const fd of [reply.pipes.stdin, reply.pipes.stdout, reply.pipes.stderr]) if (fd !== null) this.handover.add(fd);
    } else if (reply.type === 'attached') {
      this.handover.add(reply.fd);
    } else if (reply.type === 'ended') {
      this.live.delete(reply.id);
      this.maybeEnd();
    }
    if (!('seq' in reply)) {
      // `ended` is the keeper's own business (its lifetime): skiffd learns a console's end from `exited`'s answer.
      if (reply.type === 'ended') return;
      if (this.writer !== null) this.writer.write(reply);
      else if (reply.type === 'problem') process.stderr.write(`skiff-keeper: console \`${reply.id}\`: ${reply.message}\n`);
      return;
    }
    const route = this.routes.get(reply.seq);
    this.routes.delete(reply.seq);
    this.opening.delete(reply.seq);
    if (route !== undefined && route.conn === this.conn && this.writer !== null) {
      this.writer.write({ ...reply, seq: route.seq });
      return;
    }
    // Its skiffd has gone: nobody will take what the reply names.
    if (reply.type === 'attached') this.drop([reply.fd]);
    if (reply.type === 'opened' && reply.pipes) this.drop([reply.pipes.stdin, reply.pipes.stdout, reply.pipes.stderr]);
  }

  private drop(fds: Array<number | null>): void {
    for (const fd of fds) if (fd !== null && this.handover.delete(fd)) close(fd);
  }

  /** skiffd went away (crashed, or stopped): what it never took is closed, and if nothing is live, the keeper ends. */
  private lost(sock: Socket): void {
    if (this.conn !== sock) return;
    this.conn = null;
    this.writer = null;
    this.drop([...this.handover]);
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.ending || this.conn !== null || this.spawner || this.live.size > 0) return;
    this.ending = true;
    this.server.close();
    void this.pool.close().then(() => this.onEnd());
  }
}

/** The socket is 0600 in skiffd's private directory already; the kernel's word on who connected is the second lock. */
function trusted(sock: Socket): boolean {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  try {
    const peer = peerCredentials(fd ?? -1);
    if (peer.uid === 0 || peer.uid === process.getuid?.()) return true;
    process.stderr.write(`skiff-keeper: refused a connection from uid ${peer.uid} (pid ${peer.pid})\n`);
  } catch (err) {
    process.stderr.write(`skiff-keeper: could not read a connection's peer credentials: ${(err as Error).message}\n`);
  }
  return false;
}
