// skiffd's link to the keeper (src/forwarder/keeper-link.ts, thread-link.ts): each forwarder
// thread answers skiffd on a connection of its own, and a console's requests go straight to
// the thread that holds it, also for the consoles a later skiffd takes back. A pipe console's
// `taken` waits for the next frame, which still lets the console end; a discarded console (no
// answer) is gone when its id is opened again, and a discard that no frame follows still goes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConsoleHub, type PipeEnds } from '../../src/forwarder/index.js';
import { close, write } from '../../src/sys/libc.js';

const OPTIONS = { buffer: 4096, logPath: null, logMax: 0, stdin: false };
/**
 * `exited` answers when the console reaches end of file, or at the latest after this grace:
 * longer than any test here, so that a console whose ends the keeper never closed stalls.
 */
const HUB = { threads: 2, exitGraceMs: 3_600_000 };

describe('the keeper link: a connection per forwarder thread', function () {
  this.timeout(60_000);
  let dir: string;
  let hub: ConsoleHub;
  const held: number[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-keeper-link-test-'));
    hub = new ConsoleHub({ ...HUB, keeper: { dir } });
    await hub.connect();
  });
  after(async () => {
    for (const fd of held.splice(0)) close(fd);
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A pipe console with `text` written on its stdout; the container's ends stay open here. */
  async function withOutput(h: ConsoleHub, id: string, text: string): Promise<PipeEnds> {
    const ends = await h.openPipes(id, OPTIONS);
    write(ends.stdout, Buffer.from(text));
    return ends;
  }

  it('consoles on both threads, taken back by the next skiffd: each request reaches the thread that holds its console', async () => {
    const ids = ['a', 'b', 'c', 'd'];
    for (const id of ids) {
      const ends = await withOutput(hub, id, `output of ${id}\n`);
      held.push(ends.stdout, ends.stderr);
    }
    await hub.close();
    // The keeper kept them (their writers are open here); a new hub takes them back, as a restarted skiffd does.
    hub = new ConsoleHub({ ...HUB, keeper: { dir } });
    const kept = await hub.connect();
    expect(kept.map((c) => c.id).sort()).to.deep.equal(ids);
    expect(new Set(kept.map((c) => c.thread))).to.deep.equal(new Set([0, 1]));
    for (const id of ids) expect((await hub.ring(id)).toString()).to.equal(`output of ${id}\n`);
    for (const fd of held.splice(0)) close(fd);
    for (const id of ids) {
      await hub.exited(id);
      await hub.remove(id);
    }
  });

  it('the container\'s ends released with the next frame: once they are closed here, the console ends', async () => {
    const ends = await withOutput(hub, 'ends', 'last words\n');
    close(ends.stdout);
    close(ends.stderr);
    // `exited` answers once stdout and stderr are at end of file: the keeper closed its copies first.
    await hub.exited('ends');
    expect((await hub.ring('ends')).toString()).to.equal('last words\n');
    await hub.remove('ends');
  });

  it('a console discarded without an answer is gone: its id opens a fresh one', async () => {
    const first = await withOutput(hub, 'again', 'first run\n');
    hub.discard('again');
    const second = await withOutput(hub, 'again', 'second run\n');
    for (const fd of [first.stdout, first.stderr, second.stdout, second.stderr]) close(fd);
    await hub.exited('again');
    expect((await hub.ring('again')).toString()).to.equal('second run\n');
    await hub.remove('again');
  });

  it('a discard that no frame follows still reaches the keeper: the console\'s attached client ends', async () => {
    // The container's ends stay open here: only the discard can end the console.
    const ends = await withOutput(hub, 'alone', 'last words\n');
    held.push(ends.stdout, ends.stderr);
    const client = await hub.attach('alone', { replay: true, stdin: false });
    const ended = new Promise<void>((resolve) => {
      client.output.on('close', resolve).on('end', resolve).resume();
    });
    hub.discard('alone');
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the discarded console\'s client never ended: the discard was not sent')), 20_000);
    });
    try {
      await Promise.race([ended, guard]);
    } finally {
      clearTimeout(timer);
    }
  });
});
