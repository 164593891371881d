// One attached client as skiffd's main thread holds it: the read end of its live pipe (a
// net.Socket, read without blocking), the ring's replay in front of it, and its input sent
// on to the forwarder. Records mode decodes a pipe console's record headers (records.ts).
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Reply, Request } from './protocol.js';
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
    private readonly mode: { stdin: boolean; records: boolean },
    private readonly post: (msg: Request) => void,
  ) {
    this.no = reply.client;
    // The read end of the client's pipe; libuv reads it without blocking and closes it on destroy.
    this.pipe = new Socket({ fd, readable: true, writable: false });
    this.pipe.once('close', () => { this.closed = true; });
    const replay = recordsOf(reply.replay, reply.chunks);
    this.replayed = mode.records ? replay.length : 0;
    if (!reply.framed && !mode.records) {
      // Raw bytes both ways: the socket itself, with the ring's contents in front of whatever it
      // will read (nothing has been read yet).
      this.output = this.pipe;
      if (reply.replay.length > 0) this.pipe.unshift(Buffer.from(reply.replay.buffer, reply.replay.byteOffset, reply.replay.length));
      return;
    }
    // Records (or bytes out of records): decoded from the pipe's headers, or for a pty stamped
    // with the time they arrive here.
    // Pushed to directly (no Writable side to go through): the pipe is read as fast as it fills.
    // A consumer that stops reading stops the pipe's reader too: its pipe fills and the
    // forwarder drops whole records for it, as a raw client's socket does.
    const out = new Readable({ objectMode: mode.records, read: () => { this.pipe.resume(); } });
    this.output = out;
    const emit = (r: OutputRecord) => {
      if (!out.push(mode.records ? r : r.data)) this.pipe.pause();
    };
    for (const r of replay) emit(r);
    const decoder = reply.framed ? new RecordDecoder(`console \`${id}\` client pipe`) : null;
    this.pipe.on('data', (b: Buffer) => {
      if (decoder === null) emit({ stream: 1, time: nowMs(), data: b });
      else decoder.push(b, emit);
    });
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
