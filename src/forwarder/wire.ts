// The frames between skiffd and the keeper process on the keeper's unix stream socket:
// a u32 LE length, then the message: the few a container's life sends (open, opened, exited,
// done, discard, taken, remove, detach) as JSON, every other in V8's structured-clone encoding
// (v8.serialize), which carries the typed arrays of protocol.ts (input, ring copies, chunk
// indexes) as they are. v8.serialize costs about four times JSON's encoding and parsing for
// such a small message (its serializer object, header and tags): measured 14 µs against 3.4
// per message, about a quarter of a forwarder thread's JavaScript time per container. The
// two cannot be mistaken for each other: a V8 encoding starts with its version tag (0xff), JSON
// with `{`. The handshake's frames stay V8's, so a keeper of an older protocol still reads a
// hello and refuses it.
//
//   skiffd ── {hello: KEEPER_PROTOCOL} ──▶ keeper      first frame, then Request (protocol.ts)
//          ◀── {hello, pid, threads} or {refused} ──   then Reply; `taken` (below) has no reply
//   skiffd ── {hello, thread: i} ──▶ keeper            one more connection per thread, handed
//          ◀── {hello, thread: i} or {refused} ──      to thread i, which welcomes and answers it
//
// Every frame one side sends in one event-loop iteration goes out in one writev (FrameWriter):
// the other side then wakes once and reads them all in one read. Each frame costs a system
// call and, on a busy machine, a wake-up of the other process more than its encoding.
//
// Fds never travel in a frame: the keeper names them by number, skiffd opens
// /proc/<keeper>/fd/N (a new open file description of the same pipe) and says `taken`, and
// only then does the keeper close its copies.
import type { Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import type { Reply, Request } from './protocol.js';

/** Bumped whenever Request, Reply or the frames change: a skiffd never talks to a keeper of another protocol. */
export const KEEPER_PROTOCOL = 3;

/** A ring copy is at most the spec's largest ring: anything much larger is a broken stream. */
const MAX_FRAME = 256 << 20;

/** skiffd's first frame: `thread` on a connection for that forwarder thread (see keeper.ts) */
export type Hello = { hello: number; thread?: number };
/** threads: how many forwarder threads, each to be connected to; a thread's own welcome names it */
export type Welcome = { hello: number; pid: number; threads: number } | { hello: number; thread: number } | { refused: string };
/** skiffd has opened these fds of the keeper's (from `opened` or `attached`): the keeper closes its copies */
export type Taken = { type: 'taken'; fds: number[] };

export type ToKeeper = Hello | Request | Taken;
export type FromKeeper = Welcome | Reply;

/** The messages sent as JSON: per container, and of plain fields only (strings, numbers, booleans, null, no undefined). */
const AS_JSON = new Set(['open', 'opened', 'exited', 'done', 'discard', 'taken', 'remove', 'detach']);
const JSON_START = 0x7b; // `{`

/** A frame's two parts: its length prefix and its body. */
function frameParts(message: ToKeeper | FromKeeper): [Buffer, Buffer] {
  const body = AS_JSON.has((message as { type?: string }).type!) ? Buffer.from(JSON.stringify(message)) : serialize(message);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(body.length, 0);
  return [head, body];
}

export function encodeFrame(message: ToKeeper | FromKeeper): Buffer {
  return Buffer.concat(frameParts(message));
}

/**
 * Writes frames to a socket: the frames of one event-loop iteration, whichever containers they
 * are for, are kept here until that iteration's check phase (setImmediate) and then leave as
 * one buffer in one socket write. (Corking the socket did the same in one writev, but each
 * frame then went through the stream's write, buffering and uncorking on its own: a tenth of
 * skiffd's keeper-link CPU.) flush() writes what waits at once: before the socket's end.
 */
export class FrameWriter {
  /** each waiting frame's length prefix and body, in order */
  private parts: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly sock: Socket) {}

  write(message: ToKeeper | FromKeeper): void {
    if (this.sock.destroyed) return;
    const [head, body] = frameParts(message);
    this.parts.push(head, body);
    this.bytes += head.length + body.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Writes the frames that wait, now. */
  flush(): void {
    if (this.parts.length === 0) return;
    const out = Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    // A destroyed socket has nothing left to write (its 'close' reports why).
    if (!this.sock.destroyed) this.sock.write(out);
  }

  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };
}

/** Splits a byte stream into messages; bytes may arrive in any split. */
export class FrameDecoder {
  private parts: Buffer[] = [];
  private held = 0;

  constructor(private readonly what: string) {}

  push(bytes: Buffer, emit: (message: unknown) => void): void {
    this.parts.push(bytes);
    this.held += bytes.length;
    while (this.held >= 4) {
      // The length's 4 bytes in the first part (joining only the few parts they may span).
      while (this.parts[0]!.length < 4) this.parts.splice(0, 2, Buffer.concat([this.parts[0]!, this.parts[1]!]));
      const length = this.parts[0]!.readUInt32LE(0);
      if (length > MAX_FRAME) throw new Error(`${this.what}: a frame of ${length} bytes (at most ${MAX_FRAME})`);
      // Joined only once the whole frame is here: a large reply arriving in many reads is copied once.
      if (this.held < 4 + length) return;
      const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
      const rest = all.subarray(4 + length);
      this.parts = rest.length > 0 ? [rest] : [];
      this.held = rest.length;
      const body = all.subarray(4, 4 + length);
      emit(body[0] === JSON_START ? JSON.parse(body.toString('utf8')) as unknown : deserialize(body));
    }
  }
}
