// The keeper: one process per state directory (`skiff-keeper`) that holds every console's
// forwarder threads, so that a container's stdout, stderr and pty keep their reader (and its
// ring and log) when skiffd crashes or stops. skiffd connects to its socket, then once more for
// each forwarder thread: the keeper hands that connection's fd to the thread, which reads and
// answers it itself (thread-link.ts), so a console's requests never pass through this thread.
// What skiffd sends on its first connection (`list`) the keeper relays to its threads
// (pool.ts) and their replies back.
//
//   skiffd ──socket (wire.ts)──▶ Keeper ──MessagePort──▶ skiff-fwd-N (loop.ts, as in skiffd before)
//          ──socket per thread (thread-link.ts)────────▶ skiff-fwd-N
//
// One skiffd at a time, and a thread's connection only from that skiffd's process. A relayed
// request's seq is the keeper's own on the way to a thread, so a reply meant for a skiffd that
// has died is never taken for an answer by the next one; a thread answers a request on the
// connection it came by. Fds that a reply names (a pipe console's container ends, a client's
// read end) stay open until skiffd says `taken` on that connection, or are closed when it
// ends without taking them.
//
// It ends when nothing is left to keep and no skiffd is there: no connection, the pipe from
// the skiffd that started it closed (that skiffd has exited), and every console's sources at
// end of file (every container that had one has exited).
import type { Server, Socket } from 'node:net';
import { close, dupFd, peerCredentials } from '../sys/libc.js';
import { ForwarderPool, type PoolOptions } from './pool.js';
import type { Reply, Request } from './protocol.js';
import { encodeFrame, FrameDecoder, FrameWriter, KEEPER_PROTOCOL, type Hello } from './wire.js';

interface Route {
  conn: Socket;
  seq: number;
}

export class Keeper {
  private readonly pool: ForwarderPool;
  private conn: Socket | null = null;
  /** conn's frames, each iteration's in one write */
  private writer: FrameWriter | null = null;
  /** conn's process: a forwarder thread's connection must come from it */
  private connPeer = -1;
  /** the skiffd that started this keeper still runs (its end of our fd 3 is open) */
  private spawner: boolean;
  /** fds named in a reply that skiffd has not taken yet */
  private readonly handover = new Set<number>();
  private readonly routes = new Map<number, Route>();
  /** the seq of the keeper's own `list` asking whether any console is live, while in flight */
  private lifeCheck: number | null = null;
  /** something may have ended since the check in flight was sent: ask again when it answers */
  private recheck = false;
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
    const peer = trustedPeer(sock);
    if (peer === null) {
      sock.destroy();
      return;
    }
    const decoder = new FrameDecoder('skiffd → keeper');
    let greeted = false;
    sock.on('data', (b: Buffer) => {
      try {
        decoder.push(b, (m) => {
          if (greeted) return this.fromSkiffd(sock, m as Request);
          greeted = true;
          this.greet(sock, peer, m as Hello);
        });
      } catch (err) {
        process.stderr.write(`skiff-keeper: ${(err as Error).message}; closing the connection\n`);
        sock.destroy();
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.lost(sock));
  }

  /** skiffd's first frame: its connection, or one for a forwarder thread of the skiffd connected. */
  private greet(sock: Socket, peer: number, hello: Hello): void {
    const refuse = (why: string): void => {
      sock.end(encodeFrame({ refused: why }));
    };
    if (hello.hello !== KEEPER_PROTOCOL) return refuse(`keeper protocol ${KEEPER_PROTOCOL}, skiffd speaks ${String(hello.hello)}`);
    if (this.ending) return refuse('the keeper is ending');
    if (hello.thread !== undefined) {
      if (this.conn === null || peer !== this.connPeer) return refuse('a forwarder thread takes a connection only from the skiffd connected to this keeper');
      if (!Number.isInteger(hello.thread) || hello.thread < 0 || hello.thread >= this.pool.size) return refuse(`no forwarder thread ${String(hello.thread)} (there are ${this.pool.size})`);
      // The thread reads and writes the connection itself from now on. skiffd sends nothing
      // before the thread's welcome, so libuv has read nothing past the hello.
      const fd = dupFd(socketFd(sock));
      sock.destroy();
      this.pool.send({ type: 'link', thread: hello.thread, fd });
      return;
    }
    if (this.conn !== null) return refuse('another skiffd is connected to this keeper');
    this.conn = sock;
    this.connPeer = peer;
    this.writer = new FrameWriter(sock);
    this.writer.write({ hello: KEEPER_PROTOCOL, pid: process.pid, threads: this.pool.size });
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
      m = { ...m, seq };
    }
    this.pool.send(m);
  }

  private fromPool(reply: Reply): void {
    // What the keeper itself keeps track of: fds it hands over, and whether anything is live.
    if (reply.type === 'opened') {
      if (reply.pipes) for (const fd of [reply.pipes.stdin, reply.pipes.stdout, reply.pipes.stderr]) if (fd !== null) this.handover.add(fd);
    } else if (reply.type === 'attached') {
      this.handover.add(reply.fd);
    } else if (reply.type === 'ended' || reply.type === 'unlinked') {
      this.maybeEnd();
    } else if (reply.type === 'list' && reply.seq === this.lifeCheck) {
      this.lifeCheck = null;
      if (reply.consoles.every((c) => c.ended)) this.end();
      else if (this.recheck) this.maybeEnd();
      return;
    }
    if (!('seq' in reply)) {
      // `ended` is the keeper's own business (its lifetime): skiffd learns a console's end from `exited`'s answer.
      if (reply.type === 'ended' || reply.type === 'unlinked') return;
      if (this.writer !== null) this.writer.write(reply);
      else if (reply.type === 'problem') process.stderr.write(`skiff-keeper: console \`${reply.id}\`: ${reply.message}\n`);
      return;
    }
    const route = this.routes.get(reply.seq);
    this.routes.delete(reply.seq);
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

  /**
   * Ends the keeper if no skiffd is there and no console is live. Which consoles are live only
   * the threads know (skiffd opens them there directly), so they are asked. The answer is
   * every thread's, each given when it got the question: a console may end on one thread
   * before the others have answered, so an end reported meanwhile asks again.
   */
  private maybeEnd(): void {
    if (this.ending || this.conn !== null || this.spawner) return;
    if (this.lifeCheck !== null) {
      this.recheck = true;
      return;
    }
    this.recheck = false;
    this.lifeCheck = ++this.seq;
    this.pool.send({ type: 'list', seq: this.lifeCheck });
  }

  private end(): void {
    if (this.ending || this.conn !== null || this.spawner) return;
    this.ending = true;
    this.server.close();
    void this.pool.close().then(() => this.onEnd());
  }
}

function socketFd(sock: Socket): number {
  return (sock as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
}

/**
 * The connecting process's pid, or null when it may not connect. The socket is 0600 in
 * skiffd's private directory already; the kernel's word on who connected is the second lock.
 */
function trustedPeer(sock: Socket): number | null {
  try {
    const peer = peerCredentials(socketFd(sock));
    if (peer.uid === 0 || peer.uid === process.getuid?.()) return peer.pid;
    process.stderr.write(`skiff-keeper: refused a connection from uid ${peer.uid} (pid ${peer.pid})\n`);
  } catch (err) {
    process.stderr.write(`skiff-keeper: could not read a connection's peer credentials: ${(err as Error).message}\n`);
  }
  return null;
}
