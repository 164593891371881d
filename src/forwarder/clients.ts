// A console's attached clients, as its forwarder thread holds them: each a pipe whose read end
// went to the main side and whose write end gets every round of output by tee, what fits. A
// client that cannot take a round loses it (counted, and reported); one that falls more than
// clientBacklog behind in a row is disconnected. A pipe console's client gets a record header
// before each chunk, and a record goes into its pipe whole or not at all (room.ts).
import { close } from '../sys/libc.js';
import { EAGAIN, EPIPE, SysError } from '../sys/errno.js';
import { SPLICE_F_NONBLOCK } from '../sys/constants.js';
import { tee, writeRaw } from '../sys/splice.js';
import type { ThreadContext } from './context.js';
import { encodeHeader, RECORD_HEADER, type StreamId } from './records.js';
import { makePipe, PAGE } from './ring.js';
import { SlotRoom } from './room.js';

/** a client's pipe, for live output only (the replay comes with the attach reply) */
const CLIENT_PIPE_BYTES = 1 << 20;

interface Client {
  no: number;
  fd: number;
  dropped: number;
  /** bytes lost since it last took a whole round; past clientBacklog it is disconnected */
  behind: number;
  /** a pipe console's client: the slots its pipe has free, so that a record goes in whole */
  room: SlotRoom | null;
}

export class ConsoleClients {
  /** bytes lost by slow clients, summed over every client this console had */
  dropped = 0;
  private readonly clients = new Map<number, Client>();
  private next = 1;
  private readonly header = Buffer.alloc(RECORD_HEADER);

  /** `framed`: a pipe console's (record headers); `stagingSlots`: the most slots one round's chunk can span. */
  constructor(private readonly id: string, private readonly framed: boolean, private readonly stagingSlots: number, private readonly ctx: ThreadContext) {}

  get size(): number {
    return this.clients.size;
  }

  /** A new client's pipe: its read end for the main side, and (unless `live` is false) a client number. */
  add(live: boolean): { client: number; fd: number } {
    const { pipe: p, capacity } = makePipe(CLIENT_PIPE_BYTES);
    if (!live) {
      close(p.write); // nothing live will come: the replay, then end of stream
      return { client: 0, fd: p.read };
    }
    const no = this.next++;
    const room = this.framed ? new SlotRoom(p.write, capacity / PAGE, this.stagingSlots) : null;
    this.clients.set(no, { no, fd: p.write, dropped: 0, behind: 0, room });
    return { client: no, fd: p.read };
  }

  /** The first `round` bytes of `from` (staging), one stream's chunk, to every client: tee'd, not consumed. */
  feed(from: number, round: number, stream: StreamId, time: number): void {
    for (const client of this.clients.values()) this.feedOne(client, from, round, stream, time);
  }

  remove(no: number): void {
    const client = this.clients.get(no);
    if (client) this.drop(client);
  }

  /** Ends every client's stream (the console has ended). */
  removeAll(): void {
    for (const client of this.clients.values()) this.drop(client);
  }

  private feedOne(client: Client, from: number, round: number, stream: StreamId, time: number): void {
    if (client.room !== null) {
      // A record goes in whole or not at all: without room for it, the chunk is this client's loss.
      if (!client.room.take(round)) {
        this.lose(client, round);
        return;
      }
      const h = writeRaw(client.fd, encodeHeader(stream, round, time, this.header));
      if (h === -EPIPE) {
        this.drop(client);
        return;
      }
      if (h !== RECORD_HEADER) throw new SysError('write', h < 0 ? -h : EAGAIN, `record header → client ${client.no} (counted room)`);
    }
    const n = tee(from, client.fd, round, SPLICE_F_NONBLOCK);
    if (n === round) {
      client.behind = 0;
      return;
    }
    if (n === -EPIPE) {
      this.drop(client); // the main side closed its end
      return;
    }
    if (n < 0 && n !== -EAGAIN) throw new SysError('tee', -n, `staging pipe → client ${client.no}`);
    this.lose(client, round - Math.max(n, 0));
    // Not reached with counted room; if it were, the frame is cut short and nothing after it could be read.
    if (client.room !== null) this.drop(client);
  }

  private lose(client: Client, lost: number): void {
    client.dropped += lost;
    client.behind += lost;
    this.dropped += lost;
    this.ctx.lost(this.id, client.no, client.dropped);
    if (client.behind > this.ctx.clientBacklog) this.drop(client);
  }

  private drop(client: Client): void {
    if (!this.clients.delete(client.no)) return;
    close(client.fd); // the reader sees what is left in the pipe, then end of stream
  }
}
