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
//
// Batches: in a flood a client's pipe gets output in batches, not a round at a time. Output after
// a quiet spell (nothing moved into the pipe for BATCH_MS) goes at once; while output keeps coming,
// rounds wait in the backlog until BATCH_BYTES are there or BATCH_MS have passed since the last
// move, and the thread's loop moves what is due (ctx.flushAt). Each move into an empty pipe wakes
// the reader (skiffd's main thread), and a wake-up costs it more than the bytes: a pty's rounds are
// ≈ 90 KiB (its master gives 4 KiB a read), so the reader was woken ≈ 11 000 times per GB. The
// container is never waited for: its output is read and the ring fed as before; only the
// client's delivery waits, at most BATCH_MS.
import { close, epollAdd, epollDel } from '../sys/libc.js';
import { EPOLLET, EPOLLOUT } from '../sys/constants.js';
import { ClientBacklog } from './client-backlog.js';
import type { ThreadContext } from './context.js';
import { encodeHeader, nowMs, RECORD_HEADER, type StreamId } from './records.js';
import { makePipe } from './ring.js';
import { SLOT_CLIENTS } from './stdio.js';

/** a client's pipe, for live output only (the replay comes with the attach reply) */
const CLIENT_PIPE_BYTES = 1 << 20;
/**
 * how far past its pipe a client may fall behind before it loses output: what a reader that is
 * not scheduled for a while at a flood's pace needs (bench:console: at 2 GB/s, 16 ms)
 */
export const CLIENT_QUEUE_BYTES = 32 << 20;
/** a backlog this large moves into the client's pipe at once (half the pipe: the reader takes it in one read) */
export const BATCH_BYTES = 512 << 10;
/** the longest a round waits in the backlog before it moves into the client's pipe */
export const BATCH_MS = 2;

interface Client {
  no: number;
  fd: number;
  dropped: number;
  /** bytes lost since it last took a whole round; past clientBacklog it is disconnected */
  behind: number;
  backlog: ClientBacklog;
  /** disconnected: it gets no more rounds, and its stream ends once its backlog is in its pipe */
  closing: boolean;
  /** when its backlog last moved into its pipe (nowMs) */
  lastFlush: number;
  /** when the rounds waiting in its backlog move at the latest (nowMs); 0: none wait */
  due: number;
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
    this.clients.set(no, { no, fd: p.write, dropped: 0, behind: 0, backlog, closing: false, lastFlush: 0, due: 0 });
    return { client: no, fd: p.read };
  }

  /**
   * The first `round` bytes of `from` (staging, in at most `slots` buffers), one stream's chunk read
   * at `time` (nowMs), to every client: tee'd, not consumed. It moves into a client's pipe at once
   * after a quiet spell, else with the client's next batch.
   */
  feed(from: number, round: number, slots: number, stream: StreamId, time: number): void {
    const header = this.framed ? encodeHeader(stream, round, time, this.header) : null;
    for (const client of this.clients.values()) {
      if (client.closing) continue;
      if (!client.backlog.push(from, round, slots, header)) {
        // Room made first: what the reader took since the last move leaves the backlog.
        if (client.backlog.bytes === 0 || !this.flush(client, time)) {
          if (this.clients.has(client.no)) this.lose(client, round);
          continue;
        }
        if (!client.backlog.push(from, round, slots, header)) {
          this.lose(client, round);
          continue;
        }
      }
      client.behind = 0;
      if (client.backlog.bytes >= BATCH_BYTES || time - client.lastFlush >= BATCH_MS) {
        this.flush(client, time);
      } else if (client.due === 0) {
        client.due = client.lastFlush + BATCH_MS;
        this.ctx.flushAt(this.token, client.due);
      }
    }
  }

  /** Moves the backlogs whose batch is due by `now` (nowMs) into their pipes; asks again for later ones. */
  flushDue(now: number): void {
    for (const client of this.clients.values()) {
      if (client.due === 0) continue;
      if (client.due <= now) this.flush(client, now);
      else this.ctx.flushAt(this.token, client.due);
    }
  }

  /** A client's pipe has room again (its epoll event): every client's backlog moves on. */
  flushAll(): void {
    const now = nowMs();
    for (const client of this.clients.values()) this.flush(client, now);
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

  /** Moves a client's backlog into its pipe (at `now`, nowMs). False: its reader has gone, and so has the client. */
  private flush(client: Client, now: number): boolean {
    client.lastFlush = now;
    client.due = 0;
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
      this.flush(client, nowMs());
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
