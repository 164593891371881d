// A pipe console (a container without a TTY) at the forwarder's own level: real containers on
// ConsoleHub.openPipes, floods on each stream, a client that stops reading (for a while, or for
// good), the ring's index, stdin's end, and no fd left behind.
import { readdirSync } from 'node:fs';
import { expect } from 'chai';
import { ConsoleHub, type OutputRecord, type PipeEnds } from '../../src/forwarder/index.js';
import { close } from '../../src/sys/libc.js';
import { Harness } from '../support/harness.js';

const MiB = 1 << 20;

describe('console forwarder: pipes (a container without a TTY)', function () {
  this.timeout(120_000);
  let h: Harness;
  let hub: ConsoleHub;

  before(async () => {
    h = new Harness();
    hub = new ConsoleHub({ threads: 1, clientBacklog: 64 * MiB });
    // The thread is up (its epoll set and /dev/null open) before any fd is counted.
    const warm = await hub.openPipes('warm-up', { buffer: 4096, logPath: null, logMax: 0, stdin: false });
    for (const fd of [warm.stdout, warm.stderr]) close(fd);
    await hub.remove('warm-up');
  });
  after(async () => {
    await hub.close();
    await h.close();
  });

  /** Starts `script` on the console's pipes, then lets go of the container's ends as the supervisor does. */
  function start(ends: PipeEnds, script: string): Promise<{ exitCode: number }> {
    const path = (fd: number) => `/proc/${process.pid}/fd/${fd}`;
    try {
      const s = h.start({ name: 'pipes', command: ['/bin/sh', '-c', script] }, {
        console: { kind: 'pipes', stdin: ends.stdin === null ? null : path(ends.stdin), stdout: path(ends.stdout), stderr: path(ends.stderr) },
      });
      return s.exited;
    } finally {
      for (const fd of [ends.stdin, ends.stdout, ends.stderr]) if (fd !== null) close(fd);
    }
  }

  function collect(output: NodeJS.ReadableStream): { records: OutputRecord[]; ended: Promise<void> } {
    const records: OutputRecord[] = [];
    output.on('data', (r: OutputRecord) => records.push(r));
    return { records, ended: new Promise((resolve) => output.once('end', () => resolve())) };
  }

  const text = (rs: OutputRecord[], stream: 1 | 2): string => Buffer.concat(rs.filter((r) => r.stream === stream).map((r) => r.data)).toString('latin1');

  it('floods on stderr then stdout never stall the container; a paused client loses whole records only; the ring keeps both streams\' last lines', async () => {
    const fds = readdirSync('/proc/self/fd').length;
    const ends = await hub.openPipes('flood', { buffer: 256 * 1024, logPath: null, logMax: 0, stdin: false });
    const reading = await hub.attach('flood', { replay: false, stdin: false, records: true });
    const paused = await hub.attach('flood', { replay: false, stdin: false, records: true });
    const got = collect(reading.output);
    const exited = start(ends, 'head -c 20000000 /dev/zero >&2; echo E-MID >&2; head -c 20000000 /dev/zero; echo O-LAST; echo E-LAST >&2');
    // 40 MB with one client reading nothing: the container never waited for it.
    expect((await exited).exitCode).to.equal(0);
    await hub.exited('flood');
    await got.ended;
    // Each client has whole records and loses whole records: what it got plus what it lost is everything.
    const counters = await hub.counters('flood');
    expect(counters.bytesIn).to.equal(40_000_000 + 'E-MID\nO-LAST\nE-LAST\n'.length);
    const gotBytes = got.records.reduce((a, r) => a + r.data.length, 0);
    expect(gotBytes + reading.dropped).to.equal(counters.bytesIn);
    expect(text(got.records, 1).replace(/\0+/g, '')).to.be.oneOf(['', 'O-LAST\n']);
    expect(text(got.records, 2).replace(/\0+/g, '')).to.be.oneOf(['', 'E-MID\n', 'E-LAST\n', 'E-MID\nE-LAST\n']);
    expect(paused.dropped).to.be.above(0);
    // Read at last: what the paused client has is whole records, each of one stream.
    const late = collect(paused.output);
    await late.ended;
    const lateBytes = late.records.reduce((a, r) => a + r.data.length, 0);
    expect(lateBytes + paused.dropped).to.equal(counters.bytesIn);
    // The ring: the last 256 KiB, stdout's zeros then its last line, and stderr's last line.
    const ring = await hub.records('flood');
    expect(ring.reduce((a, r) => a + r.data.length, 0)).to.equal(256 * 1024);
    expect(text(ring, 1).endsWith('\0O-LAST\n')).to.equal(true);
    expect(text(ring, 2)).to.equal('E-LAST\n');
    expect(ring.at(-1)).to.deep.include({ stream: 2 });
    await hub.remove('flood');
    expect(readdirSync('/proc/self/fd').length).to.equal(fds);
  });

  it('a client that does not read while the container writes 16 MiB loses nothing: its queue holds it, in order; the container never waited', async () => {
    const ends = await hub.openPipes('lagging', { buffer: 64 * 1024, logPath: null, logMax: 0, stdin: false });
    const client = await hub.attach('lagging', { replay: false, stdin: false, records: true });
    // 2 MiB on stdout, then a line on stderr, eight times; nobody reads until the container has exited.
    const exited = start(ends, 'for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero bs=64k count=32 2>/dev/null; echo E-$i >&2; done');
    expect((await exited).exitCode).to.equal(0);
    await hub.exited('lagging');
    const got = collect(client.output);
    await got.ended;
    expect(client.dropped).to.equal(0);
    // Each stream whole and in order (across the two, the order is the forwarder's reads', as ever).
    expect(text(got.records, 2)).to.equal([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `E-${i}\n`).join(''));
    const stdout = got.records.filter((r) => r.stream === 1).reduce((a, r) => a + r.data.length, 0);
    expect(stdout).to.equal(16 * MiB);
    expect((await hub.counters('lagging')).clientDropped).to.equal(0);
    await hub.remove('lagging');
  });

  it('stdin: input before the start waits in the pipe; the end of input reaches the container', async () => {
    const ends = await hub.openPipes('stdin', { buffer: 64 * 1024, logPath: null, logMax: 0, stdin: true });
    const client = await hub.attach('stdin', { replay: true, stdin: true, records: true });
    const got = collect(client.output);
    client.write(Buffer.from('b\na\nc\n'));
    client.closeInput();
    expect((await start(ends, 'sort; echo sorted >&2')).exitCode).to.equal(0);
    await hub.exited('stdin');
    await got.ended;
    expect(text(got.records, 1)).to.equal('a\nb\nc\n');
    expect(text(got.records, 2)).to.equal('sorted\n');
    await hub.remove('stdin');
  });

  it('without stdin the container reads /dev/null, and input is dropped', async () => {
    const ends = await hub.openPipes('nostdin', { buffer: 64 * 1024, logPath: null, logMax: 0, stdin: false });
    expect(ends.stdin).to.equal(null);
    const client = await hub.attach('nostdin', { replay: true, stdin: true, records: true });
    const got = collect(client.output);
    client.write(Buffer.from('ignored\n'));
    expect((await start(ends, 'wc -c; readlink /proc/self/fd/0')).exitCode).to.equal(0);
    await hub.exited('nostdin');
    await got.ended;
    expect(text(got.records, 1)).to.equal('0\n/dev/null\n');
    await hub.remove('nostdin');
  });
});
