// A client's output moves into its pipe in batches (clients.ts), on the clock the forwarder
// passes in, so this needs no waiting: a round after a quiet spell moves at once; one that
// follows within BATCH_MS waits in the client's backlog, with its time asked of the loop
// (flushAt), until that time or until BATCH_BYTES wait; and nothing is lost or reordered.
import { expect } from 'chai';
import { BATCH_BYTES, BATCH_MS, ConsoleClients } from '../../src/forwarder/clients.js';
import type { ThreadContext } from '../../src/forwarder/context.js';
import { makePipe } from '../../src/forwarder/ring.js';
import { close, epollCreate, openPath, readRaw } from '../../src/sys/libc.js';
import { O_WRONLY } from '../../src/sys/constants.js';
import { bytesReadable, writeRaw, type Pipe } from '../../src/sys/splice.js';

describe('console batches: what a client pipe gets, and when', () => {
  let ctx: ThreadContext;
  let asked: Array<{ token: number; due: number }>;
  let staging: Pipe;
  let clients: ConsoleClients;
  let clientFd: number;

  beforeEach(() => {
    asked = [];
    ctx = {
      devNull: openPath('/dev/null', O_WRONLY),
      copyBuffer: Buffer.alloc(0),
      scratch: { get: (n) => Buffer.alloc(n) },
      spliceTty: true,
      clientBacklog: 64 << 20,
      epfd: epollCreate(),
      report: () => undefined,
      lost: () => undefined,
      flushAt: (token, due) => asked.push({ token, due }),
    };
    staging = makePipe(1 << 20).pipe;
    clients = new ConsoleClients('batch-test', false, 7, ctx);
    clientFd = clients.add(true).fd;
  });
  afterEach(() => {
    clients.removeAll();
    for (const fd of [clientFd, staging.read, staging.write, ctx.epfd, ctx.devNull]) close(fd);
  });

  /** One round of `bytes` bytes of `letter` at `time`, as the console hands it on: fed, then consumed. */
  function round(letter: string, bytes: number, time: number): void {
    const data = Buffer.alloc(bytes, letter);
    expect(writeRaw(staging.write, data)).to.equal(bytes);
    clients.feed(staging.read, bytes, Math.ceil(bytes / 4096), 1, time);
    expect(readRaw(staging.read, Buffer.alloc(bytes))).to.equal(bytes);
  }

  function readAll(): string {
    const buf = Buffer.alloc(4 << 20);
    const n = readRaw(clientFd, buf);
    return n > 0 ? buf.toString('latin1', 0, n) : '';
  }

  it('a round after a quiet spell moves at once; the next ones wait for their batch time', () => {
    const t0 = 1_000_000;
    round('a', 100, t0);
    expect(bytesReadable(clientFd), 'the first round, at once').to.equal(100);
    expect(asked).to.deep.equal([]);
    round('b', 200, t0 + BATCH_MS / 4);
    round('c', 300, t0 + BATCH_MS / 2);
    expect(bytesReadable(clientFd), 'rounds within BATCH_MS wait').to.equal(100);
    expect(asked.map((a) => a.token)).to.deep.equal([7]);
    expect(asked[0]!.due).to.equal(t0 + BATCH_MS);
    clients.flushDue(t0 + BATCH_MS / 2); // too early: nothing moves, and the loop is asked again
    expect(bytesReadable(clientFd)).to.equal(100);
    expect(asked.at(-1)!.due).to.equal(t0 + BATCH_MS);
    clients.flushDue(t0 + BATCH_MS);
    expect(readAll()).to.equal('a'.repeat(100) + 'b'.repeat(200) + 'c'.repeat(300));
    // Quiet again for BATCH_MS: the next round moves at once.
    round('d', 10, t0 + 3 * BATCH_MS);
    expect(readAll()).to.equal('d'.repeat(10));
  });

  it('a batch moves as soon as BATCH_BYTES wait, before its time', () => {
    const t0 = 2_000_000;
    round('a', 1, t0);
    const chunk = 64 << 10;
    let sent = 0;
    for (let k = 0; sent + chunk < BATCH_BYTES; k++, sent += chunk) round('b', chunk, t0 + 0.001 * (k + 1));
    expect(bytesReadable(clientFd), 'under BATCH_BYTES: waiting').to.equal(1);
    round('c', chunk, t0 + 0.5);
    expect(bytesReadable(clientFd), 'BATCH_BYTES reached: moved').to.equal(1 + sent + chunk);
  });
});
