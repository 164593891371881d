// A console's attached clients, as its forwarder thread holds them: each a pipe whose read end
// went to the main side, fed through a backlog of its own (client-backlog.ts): every round of
// output goes into the backlog by tee, whole or not at all, and the backlog into the client's
// pipe as its reader frees room. A client whose backlog cannot take a round loses it (counted,
// and reported); one that loses more than clientBacklog in a row is disconnected (it gets what
// it has queued, then the end of its stream). A pipe console's client gets a record header
// before each chunk.
//
// The client's pipe is in the thread's epoll set, edge-triggered for EPOLLOUT (data: the
// console's token × 4 + SLOT_CLIENTS): a reader that frees room in a full pipe wakes the thread,
// which moves the backlog on, so it drains when the container has gone quiet too. A console that
// ends keeps each client until its backlog has reached its pipe; only then does the client's
// stream end.
import { close, epollAdd, epollDel } from '../sys/libc.js';
import { EPOLLET, EPOLLOUT } from '../sys/constants.js';
import { ClientBacklog } from './client-backlog.js';
import type { ThreadContext } from './context.js';
import { encodeHeader, RECORD_HEADER, type StreamId } from './records.js';
import { makePipe } from './ring.js';
import { SLOT_CLIENTS } from './stdio.js';

/** a client's pipe, for live output only (the replay comes with the attach reply) */
const CLIENT_PIPE_BYTES = 1 << 20;
/**
 * how far past its pipe a client may fall behind before it loses output: what a reader that is
 * not scheduled for a while at a flood's pace needs (bench:console: at 2 GB/s, 16 ms)
 */
export const CLIENT_QUEUE_BYTES = 32 << 20;

interface Client {
  no: number;
  fd: number;
  dropped: number;
  /** bytes lost since it last took a whole round; past clientBacklog it is disconnected */
  behind: number;
  backlog: ClientBacklog;
  /** disconnected: it gets no more rounds, and its stream ends once its backlog is in its pipe */
  closing: boolean;
}

export class ConsoleClients {
  /** bytes lost by slow clients, summed over every client this console had */
  dropped = 0;
  private readonly clients = new Map<number, Client>();
  /** the console has ended: a client leaves once its backlog is in its pipe */
  private ending = false;
  private next = 1;
  private readonly header = Buffer.alloc(RECORD_HEADER);

  /**
   * `framed`: a pipe console's (record headers); `token`: the console's, for the clients' epoll
   * registrations.
   */
  constructor(private readonly id: string, private readonly framed: boolean, private readonly token: number, private readonly ctx: ThreadContext) {}

  get size(): number {
    return this.clients.size;
  }

  /** A new client's pipe: its read end for the main side, and (unless `live` is false) a client number. */
  add(live: boolean): { client: number; fd: number } {
    const { pipe: p } = makePipe(CLIENT_PIPE_BYTES);
    if (!live) {
      close(p.write); // nothing live will come: the replay, then end of stream
      return { client: 0, fd: p.read };
    }
    const no = this.next++;
    let backlog: ClientBacklog | null = null;
    try {
      backlog = new ClientBacklog(CLIENT_QUEUE_BYTES, this.ctx.devNull, `console \`${this.id}\` client ${no}`);
      epollAdd(this.ctx.epfd, p.write, (EPOLLOUT | EPOLLET) >>> 0, this.token * 4 + SLOT_CLIENTS);
    } catch (err) {
      backlog?.close();
      close(p.read);
      close(p.write);
      throw err;
    }
    this.clients.set(no, { no, fd: p.write, dropped: 0, behind: 0, backlog, closing: false });
    return { client: no, fd: p.read };
  }

  /**
   * The first `round` bytes of `from` (staging, in at most `slots` buffers), one stream's chunk, to
   * every client: tee'd, not consumed.
   */
  feed(from: number, round: number, slots: number, stream: StreamId, time: number): void {
    const header = this.framed ? encodeHeader(stream, round, time, this.header) : null;
    for (const client of this.clients.values()) {
      if (client.closing) continue;
      // Room made first: what the reader took since the last round leaves the backlog.
      if (client.backlog.bytes > 0 && !this.flush(client)) continue;
      if (!client.backlog.push(from, round, slots, header)) {
        this.lose(client, round);
        continue;
      }
      client.behind = 0;
      this.flush(client);
    }
  }

  /** A client's pipe has room again (its epoll event): every client's backlog moves on. */
  flushAll(): void {
    for (const client of this.clients.values()) this.flush(client);
  }

  remove(no: number): void {
    const client = this.clients.get(no);
    if (client) this.drop(client);
  }

  /** The console has ended: each client's stream ends once its backlog is in its pipe. */
  endAll(): void {
    this.ending = true;
    this.flushAll();
  }

  /** Ends every client's stream now, with whatever its backlog still held lost. */
  removeAll(): void {
    for (const client of this.clients.values()) {
      if (client.backlog.bytes > 0) this.count(client, client.backlog.bytes);
      this.drop(client);
    }
  }

  /** Moves a client's backlog into its pipe. False: its reader has gone, and so has the client. */
  private flush(client: Client): boolean {
    const r = client.backlog.flushInto(client.fd);
    if (r === 'gone' || (r === 'empty' && (this.ending || client.closing))) {
      this.drop(client); // the main side closed its end, or has had everything
      return false;
    }
    return true;
  }

  private lose(client: Client, lost: number): void {
    client.behind += lost;
    this.count(client, lost);
    if (client.behind > this.ctx.clientBacklog) {
      // Disconnected: what it has queued still reaches it, then its stream ends.
      client.closing = true;
      this.flush(client);
    }
  }

  private count(client: Client, lost: number): void {
    client.dropped += lost;
    this.dropped += lost;
    this.ctx.lost(this.id, client.no, client.dropped);
  }

  private drop(client: Client): void {
    if (!this.clients.delete(client.no)) return;
    epollDel(this.ctx.epfd, client.fd);
    client.backlog.close();
    close(client.fd); // the reader sees what is left in the pipe, then end of stream
  }
}
