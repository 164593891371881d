// The keeper socket's frames (src/forwarder/wire.ts): messages with typed arrays (V8's encoding)
// and a container's own (JSON) survive the trip whatever the split of the bytes, and a length
// no frame can have is an error naming it.
import { expect } from 'chai';
import type { Socket } from 'node:net';
import { encodeFrame, FrameDecoder, FrameWriter } from '../../src/forwarder/wire.js';
import type { Reply, Request } from '../../src/forwarder/protocol.js';

describe('keeper frames', () => {
  const messages: Array<Request | Reply> = [
    { type: 'input', id: 'web', data: new Uint8Array([1, 2, 3]) },
    { type: 'records', seq: 7, data: new Uint8Array(70_000).fill(9), chunks: Float64Array.from([1, 70_000, 1.5e12]) },
    { type: 'failed', seq: 8, error: { message: 'splice: EPIPE', syscall: 'splice', errno: 32 } },
    // a container's own frames, sent as JSON: nulls, nested objects and a path beyond ASCII survive
    { type: 'open', seq: 9, id: 'web', options: { buffer: 65536, logPath: '/var/lib/skiff/wéb ☃/console.log', logMax: 1 << 20, pipes: { stdin: false } } },
    { type: 'opened', seq: 9, slavePath: null, pipes: { stdin: null, stdout: 41, stderr: 43 } },
    { type: 'exited', seq: 10, id: 'web', graceMs: 5000 },
    { type: 'done', seq: 10 },
    { type: 'discard', id: 'web' },
  ];
  const bytes = Buffer.concat(messages.map((m) => encodeFrame(m)));

  it('decodes the same messages whatever the split: whole, byte by byte, and in odd pieces', () => {
    for (const step of [bytes.length, 1, 3, 4097]) {
      const got: unknown[] = [];
      const d = new FrameDecoder('test stream');
      for (let off = 0; off < bytes.length; off += step) d.push(bytes.subarray(off, off + step), (m) => got.push(m));
      expect(got, `pieces of ${step}`).to.deep.equal(messages);
    }
  });

  it('sends a container\'s frames as JSON and the rest, the handshake\'s included, in V8\'s encoding', () => {
    const first = (m: Parameters<typeof encodeFrame>[0]) => encodeFrame(m)[4];
    expect([first({ type: 'open', seq: 1, id: 'a', options: { buffer: 4096, logPath: null, logMax: 0 } }), first({ type: 'taken', fds: [3] }), first({ type: 'done', seq: 1 })]).to.deep.equal([0x7b, 0x7b, 0x7b]);
    expect([first({ hello: 3 }), first({ refused: 'no' }), first(messages[0]!), first({ type: 'list', seq: 2 })]).to.deep.equal([0xff, 0xff, 0xff, 0xff]);
  });

  it('refuses a frame longer than any message, naming the stream and the length', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(0xfffffff0, 0);
    expect(() => new FrameDecoder('skiffd → keeper').push(head, () => undefined)).to.throw('skiffd → keeper: a frame of 4294967280 bytes (at most 268435456)');
  });

  /** A socket that records each write (FrameWriter uses write and destroyed only). */
  function recordingSocket(): { sock: Socket; writes: Buffer[] } {
    const writes: Buffer[] = [];
    const sock = { destroyed: false, write: (b: Buffer) => { writes.push(Buffer.from(b)); return true; } } as unknown as Socket;
    return { sock, writes };
  }

  function decodeAll(writes: Buffer[]): unknown[] {
    const got: unknown[] = [];
    const d = new FrameDecoder('test stream');
    for (const w of writes) d.push(w, (m) => got.push(m));
    return got;
  }

  it('writes the frames of one event-loop iteration as one buffer, in order, in its check phase', async () => {
    const { sock, writes } = recordingSocket();
    const w = new FrameWriter(sock);
    for (const m of messages) w.write(m);
    expect(writes, 'nothing written before the check phase').to.have.length(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes, 'one write for the iteration').to.have.length(1);
    expect(decodeAll(writes)).to.deep.equal(messages);
  });

  it('flush() writes the waiting frames at once (before a socket\'s end), and the check phase then writes nothing more', async () => {
    const { sock, writes } = recordingSocket();
    const w = new FrameWriter(sock);
    w.write(messages[0]!);
    w.write(messages[1]!);
    w.flush();
    expect(writes).to.have.length(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).to.have.length(1);
    w.write(messages[2]!);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).to.have.length(2);
    expect(decodeAll(writes)).to.deep.equal(messages.slice(0, 3));
  });
});
