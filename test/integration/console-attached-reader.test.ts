// The attached reader (hub-client.ts) loses nothing a keeping-up client should get: every byte,
// in order, each pipe console chunk with its stream, for a pty and for pipes, in the forwarder's
// own threads and in a keeper process; and a transient reader (one buffer reused while nothing
// it handed out waits unread) never overwrites a chunk its consumer has not taken yet. The
// reader is made to pause (its consumer leaves more than the high-water mark unread) and then to
// resume, since a reader that reads large blocks by itself (an onread callback) once stopped for
// good after its first pause, and the pipe's rest was lost at close.
//
// The container writes one block per line of input, each block one write(2) (dd) of one letter,
// to stdout or stderr as the line says. The test sends the next line only once the forwarder
// has passed the previous block on (its counters) and, until the pause, once the reader has
// read it too: the client's pipe never holds more than it surely has room for, so a byte
// missing can only be the reader's fault, whatever the load.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConsoleHub, type ConsoleClient, type OutputRecord } from '../../src/forwarder/index.js';
import { close } from '../../src/sys/libc.js';
import type { LaunchConsole } from '../../src/workers/plan.js';
import { Harness } from '../support/harness.js';
import { until } from '../support/wait.js';

const KiB = 1024;

/**
 * One block per input line `<bytes> <letter> <fd>`; `q` ends it. First, on a pty, no echo of the
 * lines (stty), and then an `r`: the container is ready for input.
 */
const SCRIPT = [
  'stty -echo 2>/dev/null',
  'printf r',
  'while read n c s; do',
  '  [ "$n" = q ] && exit 0',
  '  if [ "$s" = 2 ]; then head -c "$n" /dev/zero | tr "\\0" "$c" | dd bs="$n" count=1 iflag=fullblock status=none >&2',
  '  else head -c "$n" /dev/zero | tr "\\0" "$c" | dd bs="$n" count=1 iflag=fullblock status=none; fi',
  'done',
].join('\n');

interface Block { bytes: number; letter: string; stream: 1 | 2 }

interface Case {
  label: string;
  pty: boolean;
  records: boolean;
  /** the bytes of one block: what the client's pipe surely has room for, twice over */
  block: number;
  /** blocks the reader takes before its consumer is over the high-water mark: it pauses */
  toPause: number;
  /** the consumer is done with a chunk when its handler returns (it copies it): the reads reuse a buffer */
  transient?: boolean;
}

// Records mode pauses at 64 unread records, bytes mode at 4 MiB unread (hub-client.ts). A client's
// queue (client-backlog.ts) holds at least 3 rounds whatever their size (room.ts), and its pipe
// 1 MiB more: the blocks stay far within that.
const CASES: Case[] = [
  { label: 'pipes, records', pty: false, records: true, block: 3 * KiB, toPause: 70 },
  { label: 'pipes, records, transient (as docker attach reads)', pty: false, records: true, block: 3 * KiB, toPause: 70, transient: true },
  { label: 'pipes, bytes', pty: false, records: false, block: 192 * KiB, toPause: 24 },
  { label: 'pty, bytes', pty: true, records: false, block: 64 * KiB, toPause: 70 },
  { label: 'pty, bytes, transient (as docker attach reads)', pty: true, records: false, block: 64 * KiB, toPause: 70, transient: true },
];

for (const keeper of [false, true]) {
  describe(`attached reader: a keeping-up client gets every byte in order (${keeper ? 'keeper process' : 'forwarder threads'})`, function () {
    this.timeout(180_000);
    let h: Harness;
    let hub: ConsoleHub;
    let dir: string | null = null;
    let seq = 0;

    before(async () => {
      h = new Harness();
      if (keeper) dir = mkdtempSync(join(tmpdir(), 'skiff-reader-test-'));
      hub = new ConsoleHub({ threads: 1, clientBacklog: 64 << 20, ...(dir !== null ? { keeper: { dir } } : {}) });
      await hub.connect();
    });
    after(async () => {
      await hub.close();
      await h.close();
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    });

    /** A console of the case's kind with the script on it; the container's ends are let go once it has its own. */
    async function launch(c: Case): Promise<{ id: string; exited: Promise<{ exitCode: number }>; client: ConsoleClient }> {
      const id = `reader-${++seq}`;
      let console: LaunchConsole;
      let ends: number[] = [];
      if (c.pty) {
        console = { kind: 'pty', slavePath: (await hub.open(id, { buffer: 1 << 20, logPath: null, logMax: 0 })).slavePath };
      } else {
        const p = await hub.openPipes(id, { buffer: 1 << 20, logPath: null, logMax: 0, stdin: true });
        const path = (fd: number) => `/proc/${process.pid}/fd/${fd}`;
        console = { kind: 'pipes', stdin: path(p.stdin!), stdout: path(p.stdout), stderr: path(p.stderr) };
        ends = [p.stdin!, p.stdout, p.stderr];
      }
      const client = await hub.attach(id, { replay: false, stdin: true, records: c.records, transient: c.transient ?? false });
      try {
        return { id, client, exited: h.start({ name: id, command: ['/bin/sh', '-c', SCRIPT] }, { console }).exited };
      } finally {
        for (const fd of ends) close(fd);
      }
    }

    for (const c of CASES) {
      it(`${c.label}: through a pause and a resume, nothing lost, nothing reordered`, async () => {
        const { id, client, exited } = await launch(c);
        const out = client.output;
        const sent: Block[] = [{ bytes: 1, letter: 'r', stream: 1 }];
        let forwarded = 1;
        await until(async () => (await hub.counters(id)).bytesIn === 1, 'the container to be ready');
        const send = async (b: Block): Promise<void> => {
          sent.push(b);
          client.write(Buffer.from(`${b.bytes} ${b.letter} ${b.stream}\n`));
          forwarded += b.bytes;
          await until(async () => (await hub.counters(id)).bytesIn === forwarded, `block ${sent.length} (${b.bytes} B) to be forwarded`);
          expect((await hub.counters(id)).clientDropped, `bytes the client lost by block ${sent.length}`).to.equal(0);
        };
        const block = (k: number): Block => ({ bytes: c.block, letter: String.fromCharCode(65 + (k % 26)), stream: c.pty || k % 3 !== 2 ? 1 : 2 });
        // Nobody reads `out` yet: the reader takes each block into it until it is over its high-water mark.
        for (let k = 0; k < c.toPause; k++) {
          await send(block(k));
          const want = c.records ? k + 2 : (k + 1) * c.block + 1;
          if (out.readableLength >= (c.records ? 64 : 4 << 20)) break;
          await until(() => out.readableLength >= want, `the reader to have block ${k + 1} unread in its stream`);
        }
        expect(out.readableLength, 'unread in the stream before the last blocks').to.be.at.least(c.records ? 64 : 4 << 20);
        // Paused now: these wait in the client's pipe, which has room for them.
        await send(block(sent.length));
        await send(block(sent.length));
        client.write(Buffer.from('q\n'));
        expect((await exited).exitCode).to.equal(0);
        await hub.exited(id);
        // Read at last: the reader must resume and read the pipe to its end.
        const got: OutputRecord[] = [];
        const ended = new Promise<void>((resolve) => out.once('end', () => resolve()));
        // A copy of each chunk, as a transient consumer must take (the one kind of consumer there is here).
        out.on('data', (d: OutputRecord | Buffer) => got.push(Buffer.isBuffer(d) ? { stream: 1, time: 0, data: Buffer.from(d) } : { ...d, data: Buffer.from(d.data) }));
        await until(() => out.readableEnded, `the client's stream to end (it has ${got.length} chunks)`);
        await ended;
        const text = (rs: Array<{ stream: 1 | 2; text: string }>, s: 1 | 2): string => rs.filter((r) => r.stream === s).map((r) => r.text).join('');
        // Bytes mode carries no stream: there, stderr's blocks are part of the one stream.
        const expected = sent.map((b) => ({ stream: c.records ? b.stream : 1, text: b.letter.repeat(b.bytes) }));
        const received = got.map((r) => ({ stream: r.stream, text: r.data.toString('latin1') }));
        expect(received.reduce((a, r) => a + r.text.length, 0), 'bytes received').to.equal(forwarded);
        expect(client.dropped).to.equal(0);
        // Stdout and stderr each whole and in order, and across them in the order written.
        expect(text(received, 1) === text(expected, 1), 'stdout as written').to.equal(true);
        expect(text(received, 2) === text(expected, 2), 'stderr as written').to.equal(true);
        // Each block's letter differs from the one before it: the runs of letters, with their stream, in order.
        const runs = (rs: Array<{ stream: 1 | 2; text: string }>): string => {
          const seen: string[] = [];
          for (const r of rs) {
            for (const m of r.text.matchAll(/(.)\1*/g)) if (seen.at(-1) !== `${r.stream}${m[1]}`) seen.push(`${r.stream}${m[1]}`);
          }
          return seen.join(' ');
        };
        expect(runs(received)).to.equal(runs(expected));
        await hub.remove(id);
      });
    }
  });
}
