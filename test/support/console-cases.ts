// The console forwarder's behaviours, with real containers on ptys from ConsoleHub.open,
// run once per forwarding path: splice (console.test.ts) and read/write (console-fallback.test.ts).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { expect } from 'chai';
import { ConsoleHub, type ConsoleClient } from '../../src/forwarder/index.js';
import { CLIENT_QUEUE_BYTES } from '../../src/forwarder/clients.js';
import { close, openPty, readRaw } from '../../src/sys/libc.js';
import { Harness, type Started } from './harness.js';
import { STALL_MS, until } from './wait.js';

export interface ForwardingMode {
  label: string;
  spliceTty: boolean;
}

// ── output arithmetic: `seq 1 N` through a pty (ONLCR turns each \n into \r\n) ──

/** Bytes of the lines from..to of `seq`, each ending in \r\n. */
export function seqBytes(from: number, to: number): number {
  let total = 0;
  for (let digits = 1, lo = 1; lo <= to; digits++, lo *= 10) {
    const a = Math.max(from, lo);
    const b = Math.min(to, lo * 10 - 1);
    if (b >= a) total += (b - a + 1) * (digits + 2);
  }
  return total;
}

/** The last `bytes` bytes of `seq 1 N` through a pty, followed by `suffix`. */
export function seqTail(n: number, bytes: number, suffix = ''): string {
  const parts = [suffix];
  let have = suffix.length;
  for (let i = n; i >= 1 && have < bytes; i--) {
    const line = `${i}\r\n`;
    parts.push(line);
    have += line.length;
  }
  const text = parts.reverse().join('');
  return text.slice(text.length - Math.min(bytes, text.length));
}

/** The last `bytes` bytes of lines line(from)..line(to), each ending in \r\n, and the total length. */
export function linesTail(line: (i: number) => string, from: number, to: number, bytes: number): { tail: string; total: number } {
  const all: string[] = [];
  for (let i = from; i <= to; i++) all.push(`${line(i)}\r\n`);
  const text = all.join('');
  return { tail: text.slice(Math.max(0, text.length - bytes)), total: text.length };
}

/** Collects a client's output as it arrives. */
export class Collector {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  /** the last bytes received, cheap to look at while data flows */
  tail = '';
  ended = false;
  private readonly done: Promise<void>;

  /** keep: false counts bytes and keeps the tail only */
  constructor(stream: Readable, flowing = true, private readonly keep = true) {
    this.done = new Promise((resolve) => {
      stream.on('end', () => { this.ended = true; resolve(); });
      stream.on('close', () => { this.ended = true; resolve(); });
    });
    if (flowing) this.listen(stream);
  }

  listen(stream: Readable): void {
    stream.on('data', (d: Buffer) => {
      if (this.keep) this.chunks.push(d);
      this.bytes += d.length;
      this.tail = (this.tail + d.subarray(-64).toString('latin1')).slice(-64);
    });
  }

  text(): string {
    if (!this.keep) throw new Error('this collector keeps only the tail');
    return Buffer.concat(this.chunks).toString('latin1');
  }

  ends(): Promise<void> {
    return this.done;
  }
}

/**
 * Waits until `client` has had `bytes` bytes since it attached, read (by `out`) or counted as
 * dropped: its pipe is then empty, so what the container writes next fits in it whole.
 */
export function caughtUp(client: ConsoleClient, out: Collector, bytes: number, who: string): Promise<unknown> {
  return until(() => out.bytes + client.dropped >= bytes, `${who} to have ${bytes} bytes, read or dropped`);
}

/**
 * The reference: the same container on a bare pty whose master this thread drains with a
 * tight blocking read loop until EIO. Returns the bytes read and the output's last 256 bytes.
 */
export function drainBarePty(h: Harness, script: string): { started: Started; bytes: number; tail: string } {
  const pty = openPty({ nonBlocking: false });
  try {
    const started = h.start({ name: 'reference', command: ['/bin/sh', '-c', script] }, { console: { kind: 'pty', slavePath: pty.slavePath } });
    const buf = Buffer.alloc(64 * 1024);
    const tail = Buffer.alloc(256); // the last bytes read, kept without allocating per read
    let bytes = 0;
    for (;;) {
      const n = readRaw(pty.master, buf);
      if (n === -4 /* EINTR */) continue;
      if (n <= 0) break; // EIO: the slave is closed by all
      if (n >= tail.length) buf.copy(tail, 0, n - tail.length, n);
      else {
        tail.copy(tail, 0, n);
        buf.copy(tail, tail.length - n, 0, n);
      }
      bytes += n;
    }
    return { started, bytes, tail: tail.subarray(Math.max(0, tail.length - bytes)).toString('latin1') };
  } finally {
    close(pty.master);
  }
}

function elapsedMicros(tail: string): number {
  const m = /elapsed=(\d+)\r\n$/.exec(tail);
  if (!m) throw new Error(`no elapsed= line at the end of ${JSON.stringify(tail.slice(-80))}`);
  return Number(m[1]);
}

export function defineConsoleCases(mode: ForwardingMode): void {
  describe(`console forwarder (${mode.label})`, function () {
    this.timeout(300_000);
    let h: Harness;
    let hub: ConsoleHub;
    let seq = 0;

    before(() => {
      h = new Harness();
      hub = new ConsoleHub({ spliceTty: mode.spliceTty, clientBacklog: 16 << 20 });
    });
    after(async () => {
      await hub.close();
      await h.close();
    });

    /** A console and a container on it. */
    async function launch(script: string, options: { buffer?: number; logPath?: string } = {}): Promise<{ id: string; started: Started }> {
      const id = `c${++seq}`;
      const { slavePath } = await hub.open(id, { buffer: options.buffer ?? 1 << 20, logPath: options.logPath ?? null, logMax: 256 * 1024 });
      const started = h.start({ name: id, command: ['/bin/sh', '-c', script] }, { console: { kind: 'pty', slavePath } });
      return { id, started };
    }

    it('a 50 MB write with nobody attached: the ring holds exactly its last bytes, the counters every byte', async () => {
      const N = 6_000_000;
      const buffer = 1 << 20;
      // The container times its own write, so both figures measure the same thing. They are
      // printed, never compared with a bound: how fast a shared machine is at this moment is
      // not what this test is about (bench/console.ts measures it, in rounds).
      const script = `a=$(date +%s%N); seq 1 ${N} | cat; b=$(date +%s%N); echo elapsed=$(( (b - a) / 1000 ))`;
      const total = (tail: string): number => seqBytes(1, N) + tail.length - tail.lastIndexOf('elapsed=');
      const r = drainBarePty(h, script);
      expect((await r.started.exited).exitCode).to.equal(0);
      expect(r.bytes).to.equal(total(r.tail));

      const rssBefore = process.memoryUsage().rss;
      const { id, started } = await launch(script, { buffer });
      expect((await started.exited).exitCode).to.equal(0);
      await hub.exited(id);
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      const ring = await hub.ring(id);
      const tail = ring.subarray(-256).toString('latin1');
      // Exactly the last `buffer` bytes of the output, ending with its last line.
      expect(ring.length).to.equal(buffer);
      expect(ring.toString('latin1') === seqTail(N, buffer, tail.slice(tail.lastIndexOf('elapsed=')))).to.equal(true, 'ring = the output\'s last bytes');
      const counters = await hub.counters(id);
      expect(counters.bytesIn).to.equal(total(tail));
      expect(counters.ringDropped).to.equal(counters.bytesIn - buffer);
      await hub.remove(id);
      const mib = (us: number): string => (seqBytes(1, N) / us / 1.048576).toFixed(1);
      console.log(`      [${mode.label}] 50 MB through a bare pty: ${mib(elapsedMicros(r.tail))} MiB/s; through ConsoleHub, nobody attached: `
        + `${mib(elapsedMicros(tail))} MiB/s; rss growth meanwhile ${(rssGrowth / 1048576).toFixed(1)} MiB`);
    });

    it('attach replays the ring then live lines, with no gap and no duplicate', async () => {
      const buffer = 64 * 1024;
      const burst = 100_000;
      const batch = 5000;
      const batches = 8;
      // Lines 1..100000 at once (the ring keeps their last 64 KiB), then live lines in batches
      // of 5000, each written once the test acknowledges the one before with a line on stdin
      // (echo off: acknowledgements are not output). The attach is sent with the first
      // acknowledgement, so it usually lands while that batch flows through the pty, and from
      // then on a batch is acknowledged only once the client has received it: the client is
      // never more than a batch (40 KB, a few dozen pipe buffers) behind, which its pipe always
      // holds, however busy the machine. A client that falls a whole pipe behind loses bytes by
      // design (the paused-client case below); the seam between replay and live is what this
      // test is about.
      const script = `stty -echo; seq 1 ${burst} | cat; i=${burst + 1}; while [ $i -le ${burst + batches * batch} ]; do `
        + `read ack; j=$((i + ${batch - 1})); seq $i $j | cat; i=$((j + 1)); done`;
      const { id, started } = await launch(script, { buffer });
      // The acknowledgements go through a client of their own; its output is not looked at.
      const ctl = await hub.attach(id, { replay: false });
      ctl.output.resume();
      const lastLine = (k: number): number => burst + k * batch;
      let client: ConsoleClient | null = null;
      let out: Collector | null = null;
      let before = 0;
      for (let k = 0; k < batches; k++) {
        // Batch k (0: the burst) is out, and the client has it, before batch k + 1 may come.
        await until(async () => (await hub.counters(id)).bytesIn >= seqBytes(1, lastLine(k)), `lines up to ${lastLine(k)} to be written`);
        if (out !== null) await until(() => out!.tail.endsWith(`\n${lastLine(k)}\r\n`), `the client to receive lines up to ${lastLine(k)}`);
        ctl.write(Buffer.from('\n'));
        if (k === 0) {
          // Attach as soon as batch 1 starts to arrive: usually while it flows through the pty.
          before = await until(async () => {
            const n = (await hub.counters(id)).bytesIn;
            return n > seqBytes(1, burst) ? n : 0;
          }, 'the first live batch to start', STALL_MS, 0);
          client = await hub.attach(id);
          out = new Collector(client.output);
        }
      }
      expect((await started.exited).exitCode).to.equal(0);
      await hub.exited(id);
      await out!.ends();
      ctl.close();

      const lines = out!.text().split('\r\n');
      const numbers = lines.slice(1, -1).map(Number); // the first may start mid-line; the output ends with \r\n
      const first = numbers[0]!;
      // Recent output first: no earlier than ring-size bytes before the end at attach time, and
      // reaching back into the burst (the ring holds more than the batches written until then).
      expect(seqBytes(1, first - 1)).to.be.at.least(before - buffer);
      expect(first).to.be.at.most(burst);
      const breaks = numbers.flatMap((n, i) => (i > 0 && n !== numbers[i - 1]! + 1 ? [`${numbers[i - 1]} → ${n}`] : []));
      expect(client!.dropped, 'bytes dropped for this client').to.equal(0);
      expect(breaks, 'gaps or duplicates').to.deep.equal([]);
      expect(numbers.at(-1)).to.equal(lastLine(batches));
      // Where the attach landed: the replay is the 64 KiB before it.
      const at = seqBytes(1, first - 1) - (lines[0]!.length + 2) + buffer;
      console.log(`      [${mode.label}] attached at byte ${at} (${at - seqBytes(1, burst)} into the first live batch): replay from line ${first}, then live to ${numbers.at(-1)} without a break`);
      await hub.remove(id);
    });

    it('two clients both see a live line; input from one reaches the container', async () => {
      const { id, started } = await launch('echo ready; read line; echo got:$line; read more; echo bye:$more');
      await until(async () => (await hub.ring(id)).includes('ready'), 'the container to say ready');
      const a = await hub.attach(id);
      const b = await hub.attach(id);
      const outA = new Collector(a.output);
      const outB = new Collector(b.output);
      a.write(Buffer.from('hello\n'));
      await until(() => outA.text().includes('got:hello\r\n') && outB.text().includes('got:hello\r\n'), 'both clients to see got:hello');
      b.write(Buffer.from('from-b\n'));
      expect((await started.exited).exitCode).to.equal(0);
      await hub.exited(id);
      await Promise.all([outA.ends(), outB.ends()]);
      for (const out of [outA, outB]) expect(out.text()).to.match(/^ready\r\n[^]*got:hello\r\n[^]*bye:from-b\r\n$/);
      expect((await hub.counters(id)).clients).to.equal(0);
      await hub.remove(id);
    });

    it('a client that stops reading is queued for, then dropped after its backlog; the container and the other client go on', async () => {
      const { slavePath } = await hub.open('flood', { buffer: 256 * 1024, logPath: null, logMax: 0 });
      const reading = await hub.attach('flood');
      const paused = await hub.attach('flood');
      const outA = new Collector(reading.output, true, false);
      const outB = new Collector(paused.output, false); // never read until the container is done
      // 1000 blocks of 64 KiB in 10 rounds; before each round (and before DONE) the container waits
      // for a line on stdin (echo off), which the test sends once the reading client has had every
      // byte so far, read or counted as dropped. So the reading client, however slow the machine
      // makes its reads, is never a round (6.5 MB) behind and never disconnected; the paused one
      // falls behind by the whole flood (65 MB): its pipe, its queue (CLIENT_QUEUE_BYTES) and the
      // reader's high-water mark fill, then it loses rounds and is disconnected once it has lost
      // the hub's clientBacklog (16 MiB) in a row. The container never waits for the paused client.
      const rounds = 10;
      const blocks = 1000;
      const ready = 'ready\r\n';
      const started = h.start({ name: 'flood', command: ['/bin/sh', '-c',
        `stty -echo; echo ready; i=0; while [ $i -lt ${rounds} ]; do read ack; dd if=/dev/zero bs=64k count=${blocks / rounds} 2>/dev/null; i=$((i+1)); done; read ack; echo DONE`] },
      { console: { kind: 'pty', slavePath } });
      for (let r = 0; r <= rounds; r++) {
        const upTo = ready.length + (r * blocks / rounds) * 65536;
        await caughtUp(reading, outA, upTo, 'the reading client');
        reading.write(Buffer.from('\n'));
      }
      expect((await started.exited).exitCode).to.equal(0);
      await hub.exited('flood');
      await outA.ends();
      expect(outA.tail.endsWith('DONE\r\n')).to.equal(true, `the reading client got the last line (it dropped ${reading.dropped}, ends with ${JSON.stringify(outA.tail.slice(-8))})`);
      expect(paused.dropped).to.be.above(16 << 20);
      outB.listen(paused.output);
      await outB.ends();
      expect(outB.text()).not.to.include('DONE');
      // It had its queue's worth, not just its pipe's; and no more than pipe, queue and high-water mark.
      // The queue is bounded in pipe slots, not bytes (client-backlog.ts): a pty's chunks are at
      // most 4095 bytes a slot and each round's record header takes a slot of its own, so when the
      // rounds come small its 32 MiB of capacity holds less (31.7 MB, seen once in CI). Half
      // of it is still far above what the pipe and the high-water mark alone could hold (< 6 MiB).
      expect(outB.bytes).to.be.above(CLIENT_QUEUE_BYTES / 2);
      expect(outB.bytes).to.be.below(CLIENT_QUEUE_BYTES + (6 << 20));
      const counters = await hub.counters('flood');
      expect(counters.clientDropped).to.equal(paused.dropped + reading.dropped);
      expect(counters.bytesIn).to.equal(ready.length + blocks * 65536 + 'DONE\r\n'.length);
      console.log(`      [${mode.label}] paused client: got ${outB.bytes} bytes, dropped ${paused.dropped}; reading client: got ${outA.bytes}, dropped ${reading.dropped}`);
      await hub.remove('flood');
    });

    it('a trickle of small writes fills the ring to exactly its last bytes too', async () => {
      // Thousands of short writes, each forwarded on its own: buffers far shorter than a
      // page fill the ring's slots long before its bytes, so it must pack them.
      for (const buffer of [16 * 1024, 1 << 20]) {
        const pad = 'x'.repeat(buffer > 65536 ? 90 : 4);
        const count = buffer > 65536 ? 15_000 : 3000;
        const { id, started } = await launch(`i=1; while [ $i -le ${count} ]; do echo line-$i-${pad}; i=$((i+1)); done`, { buffer });
        expect((await started.exited).exitCode).to.equal(0);
        await hub.exited(id);
        const want = linesTail((i) => `line-${i}-${pad}`, 1, count, buffer);
        const ring = await hub.ring(id);
        expect(ring.length).to.equal(buffer);
        expect(ring.toString('latin1') === want.tail).to.equal(true, `ring of ${buffer} = the output's last bytes`);
        const counters = await hub.counters(id);
        expect(counters.bytesIn).to.equal(want.total);
        expect(counters.ringDropped).to.equal(want.total - buffer);
        await hub.remove(id);
      }
    });

    it('a client that detaches mid-flood leaves the others and the container alone', async () => {
      const { slavePath } = await hub.open('detach', { buffer: 64 * 1024, logPath: null, logMax: 0 });
      const stays = await hub.attach('detach');
      const leaves = await hub.attach('detach');
      const outA = new Collector(stays.output, true, false);
      const outB = new Collector(leaves.output, true, false);
      // Two halves of a flood with a detach between them; each half, and DONE, waits for a line on
      // stdin (echo off) that the test sends once the staying client has had every byte so far, so
      // it never falls a pipe behind and DONE always fits its pipe.
      const ready = 'ready\r\n';
      const half = 100 * 65536;
      const started = h.start({ name: 'detach', command: ['/bin/sh', '-c',
        'stty -echo; echo ready; read ack; dd if=/dev/zero bs=64k count=100 2>/dev/null; read ack; dd if=/dev/zero bs=64k count=100 2>/dev/null; read ack; echo DONE'] },
      { console: { kind: 'pty', slavePath } });
      for (const upTo of [ready.length, ready.length + half, ready.length + 2 * half]) {
        await caughtUp(stays, outA, upTo, 'the staying client');
        if (upTo === ready.length + half) {
          await caughtUp(leaves, outB, upTo, 'the leaving client');
          leaves.close();
        }
        stays.write(Buffer.from('\n'));
      }
      expect((await started.exited).exitCode).to.equal(0);
      await hub.exited('detach');
      await outA.ends();
      expect(outA.tail.endsWith('DONE\r\n')).to.equal(true, `the client that stayed got the last line (it dropped ${stays.dropped}, ends with ${JSON.stringify(outA.tail.slice(-8))})`);
      expect(outB.tail).not.to.include('DONE');
      expect((await hub.counters('detach')).clients).to.equal(0);
      await hub.remove('detach');
    });

    it('input waits, within bounds, while the container is not reading its stdin', async () => {
      // 60 lines of 1000 bytes (999 + \n): more than the pty takes at once (about 22 KB here), less than
      // the pty plus the 64 KiB the thread keeps for it; so some of it waits, none is lost. The
      // container reads only once all of it is with the forwarder: the test then creates /tmp/go
      // in the container's own /tmp (through /proc/<pid>/root), which it waits for.
      const { id, started } = await launch('echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; head -n 60 | wc -c');
      await until(async () => (await hub.ring(id)).includes('ready'), 'the container to say ready');
      const c = await hub.attach(id, { replay: false });
      const out = new Collector(c.output);
      for (let i = 0; i < 60; i++) c.write(Buffer.from(`${'y'.repeat(999)}\n`));
      await hub.counters(id); // answered after the input before it on the same port: all 60 lines are written or queued
      writeFileSync(`/proc/${started.pid}/root/tmp/go`, '');
      expect((await started.exited).exitCode).to.equal(0);
      await hub.exited(id);
      await out.ends();
      // The pty's echo of the input may come before, after or in the middle of wc's answer's
      // line on a busy machine: what counts is that wc counted all 60000 bytes.
      expect(out.text()).to.match(/(?<!\d)60000\r\n/);
      await hub.remove(id);
    });

    it('the log file rotates at its size bound and keeps the bytes as written', async () => {
      const dir = h.tmp.make('console-log');
      const logPath = join(dir, 'console.log');
      const { id, started } = await launch('seq 1 200000 | cat', { logPath });
      expect((await started.exited).exitCode).to.equal(0);
      await hub.exited(id);
      const max = 256 * 1024;
      const current = readFileSync(logPath, 'latin1');
      const old = readFileSync(`${logPath}.1`, 'latin1');
      expect(old.length).to.equal(max);
      expect(current.length).to.be.within(1, max);
      expect(statSync(logPath).size + statSync(`${logPath}.1`).size).to.be.at.most(2 * max);
      expect(existsSync(`${logPath}.2`)).to.equal(false);
      const total = seqBytes(1, 200000);
      expect(old + current === seqTail(200000, old.length + current.length)).to.equal(true, 'log.1 + log = the output\'s tail');
      expect(current.length).to.equal(((total - 1) % max) + 1);
      await hub.remove(id);
    });

    it('resize sets the container\'s window size', async () => {
      const { id, started } = await launch('echo ready; read x; stty size');
      await until(async () => (await hub.ring(id)).includes('ready'), 'the container to say ready');
      await hub.resize(id, 42, 137);
      const c: ConsoleClient = await hub.attach(id, { replay: false });
      const out = new Collector(c.output);
      c.write(Buffer.from('\n'));
      await started.exited;
      await hub.exited(id);
      await out.ends();
      expect(out.text()).to.include('42 137\r\n');
      await hub.remove(id);
    });
  });
}
