// One attached client as skiffd's main thread holds it: the read end of its live pipe (a
// net.Socket, read without blocking), the ring's replay in front of it, and its input sent
// on to the forwarder. Records mode decodes a pipe console's record headers (records.ts).
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { Readable } from 'node:stream';
import type { Reply, Request } from './protocol.js';
import { ReadSlab, ReusedReads } from './read-slab.js';
import { nowMs, RecordDecoder, recordsOf, type OutputRecord } from './records.js';

export interface ConsoleClient {
  /**
   * from the container, ending when its console closes or the client is dropped: bytes (both
   * streams, in order), or with `records` one OutputRecord per chunk (stream, time, bytes)
   */
  readonly output: Readable;
  /** to the container's stdin (the pty master or the stdin pipe); dropped if the container does not read it */
  write(data: Buffer): void;
  /** how many chunks of the replay come first (records mode; 0 otherwise) */
  readonly replayed: number;
  /** end of input: a pipe console's stdin is closed once what was written is (StdinOnce); nothing on a pty */
  closeInput(): void;
  close(): void;
  /** bytes this client lost because it did not keep up (as the forwarder last reported) */
  readonly dropped: number;
}

/** A console operation that failed: names the console and the operation; `cause` holds the SysError, if any. */
export class ConsoleError extends Error {
  readonly code: string;
  readonly id: string;
  constructor(id: string, message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConsoleError';
    this.id = id;
    this.code = code;
  }
}

/** bytes a consumer may leave unread before the pipe is paused */
const OUT_HIGH_WATER = 4 << 20;
/** records mode: records (each at most a staging round, 256 KiB) */
const OUT_HIGH_WATER_RECORDS = 64;

export class HubClient implements ConsoleClient {
  readonly output: Readable;
  private readonly pipe: Socket;
  private closed = false;
  readonly no: number;
  readonly replayed: number;
  dropped = 0;

  /** `fd`: the read end of the client's pipe, this process's own; `post` sends input and detach on. */
  constructor(
    private readonly id: string,
    reply: Extract<Reply, { type: 'attached' }>,
    fd: number,
    private readonly mode: { stdin: boolean; records: boolean; transient: boolean },
    private readonly post: (msg: Request) => void,
  ) {
    this.no = reply.client;
    const replay = recordsOf(reply.replay, reply.chunks);
    this.replayed = mode.records ? replay.length : 0;
    // What the consumer reads. A high-water mark well above one read: with the default (16 KiB,
    // or 16 records) every read would pause the pipe and the next resume it, two epoll_ctl calls
    // a chunk, which cost more than the bytes (bench:console: 229 → 940 MiB/s on a bare pipe).
    // A consumer that stops reading stops the pipe's reader too: its pipe fills and the forwarder
    // drops whole records for it.
    const out = new Readable({
      objectMode: mode.records,
      highWaterMark: mode.records ? OUT_HIGH_WATER_RECORDS : OUT_HIGH_WATER,
      read: () => { this.pipe.resume(); },
    });
    this.output = out;
    const emit = (r: OutputRecord): void => {
      if (!out.push(mode.records ? r : r.data)) this.pipe.pause();
    };
    const decoder = reply.framed ? new RecordDecoder(`console \`${id}\` client pipe`) : null;
    // A pty's bytes are stamped with the time they arrive here; a pipe console's come in records (records.ts).
    const read = (b: Buffer): void => {
      if (decoder === null) emit({ stream: 1, time: nowMs(), data: b });
      else decoder.push(b, emit);
    };
    // The read end of the client's pipe; libuv reads it without blocking, into a slab (read-slab.ts),
    // and closes it on destroy. Paused and resumed through the socket's own pause()/resume(), which
    // stop and restart libuv's reading: an onread callback returning false stops it behind the
    // stream's back, a later resume() did not restart it, and what the pipe still held was lost.
    const slab = mode.transient ? new ReusedReads(() => out.readableLength) : new ReadSlab();
    // (Node takes `onread` for any socket; its types list it for connect() only.)
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd, readable: true, writable: false,
      onread: { buffer: () => slab.room(), callback: (n) => { read(slab.take(n)); return true; } },
    };
    this.pipe = new Socket(options);
    for (const r of replay) emit(r);
    this.pipe.once('close', () => { this.closed = true; });
    // A chunk cut short (a client dropped mid-chunk) ends the stream where its bytes end.
    this.pipe.on('end', () => out.push(null));
    this.pipe.on('error', (err) => out.destroy(err));
    out.on('close', () => this.pipe.destroy());
    this.pipe.once('close', () => { if (!out.readableEnded) out.push(null); });
  }

  write(data: Buffer): void {
    if (!this.mode.stdin) throw new ConsoleError(this.id, `console \`${this.id}\`: this client was attached without stdin`, 'EBADF');
    if (this.closed || data.length === 0) return;
    this.post({ type: 'input', id: this.id, data });
  }

  closeInput(): void {
    if (!this.mode.stdin) throw new ConsoleError(this.id, `console \`${this.id}\`: this client was attached without stdin`, 'EBADF');
    this.post({ type: 'closeInput', id: this.id });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.output.destroy();
    this.pipe.destroy();
    if (this.no !== 0) this.post({ type: 'detach', id: this.id, client: this.no });
  }
}
