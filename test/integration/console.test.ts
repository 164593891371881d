// The console forwarder with real containers on ptys from ConsoleHub.open (splice path),
// plus what only the hub as a whole shows: many consoles per thread, no fd left behind,
// threads named for ps.
import { closeSync, constants, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { expect } from 'chai';
import { ConsoleHub } from '../../src/forwarder/index.js';
import { defineConsoleCases } from '../support/console-cases.js';

defineConsoleCases({ label: 'splice', spliceTty: true });

function openFds(): string[] {
  return readdirSync('/proc/self/fd').sort();
}

function threadNames(): string[] {
  return readdirSync('/proc/self/task').map((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
    } catch {
      return ''; // the thread ended while listing
    }
  });
}

describe('console hub: 500 consoles on 2 forwarder threads', function () {
  this.timeout(120_000);

  it('opens 500 consoles at once, forwards each, and leaves no fd behind', async () => {
    const before = openFds();
    const forwardersBefore = threadNames().filter((n) => n.startsWith('skiff-fwd-')).length;
    const hub = new ConsoleHub({ threads: 2 });
    const ids = Array.from({ length: 500 }, (_, i) => `many-${i}`);
    const slaves = await Promise.all(ids.map((id) => hub.open(id, { buffer: 16 * 1024, logPath: null, logMax: 0 })));
    expect(threadNames()).to.include.members(['skiff-fwd-0', 'skiff-fwd-1']);
    expect(threadNames().filter((n) => n.startsWith('skiff-fwd-')).length - forwardersBefore).to.equal(2);
    const during = openFds().length;
    // Each console writes one line and closes its slave, as an exiting container does.
    slaves.forEach(({ slavePath }, i) => {
      const fd = openSync(slavePath, constants.O_RDWR | constants.O_NOCTTY);
      writeSync(fd, `console ${i}\n`);
      closeSync(fd);
    });
    await Promise.all(ids.map((id) => hub.exited(id)));
    const rings = await Promise.all(ids.map((id) => hub.ring(id)));
    rings.forEach((ring, i) => expect(ring.toString()).to.equal(`console ${i}\r\n`));
    await Promise.all(ids.map((id) => hub.remove(id)));
    await hub.close();
    console.log(`      fds: ${before.length} before, ${during} with 500 consoles open, ${openFds().length} after close`);
    expect(openFds()).to.deep.equal(before);
  });
});

describe('console hub: errors, late attach and ends without a container', function () {
  let hub: ConsoleHub;
  before(() => {
    hub = new ConsoleHub({ threads: 1, exitGraceMs: 50 });
  });
  after(() => hub.close());

  it('refuses bad options and unknown or duplicate consoles, naming them', async () => {
    const refusal = (p: Promise<unknown>) => p.then(() => 'opened', (e: Error) => `${e.name}: ${e.message}`);
    expect(await refusal(hub.open('small', { buffer: 100, logPath: null, logMax: 0 }))).to.equal('RangeError: console `small` options.buffer must be an integer from 4096 to 16777216, got 100');
    expect(await refusal(hub.open('rel', { buffer: 4096, logPath: 'console.log', logMax: 4096 }))).to.equal('RangeError: console `rel` options.logPath must be an absolute path or null, got "console.log"');
    const missing = await hub.ring('nope').catch((e: Error) => e);
    expect(missing).to.include({ name: 'ConsoleError', code: 'ENOENT', message: 'no console `nope`' });
    await hub.open('twice', { buffer: 4096, logPath: null, logMax: 0 });
    const err = await hub.open('twice', { buffer: 4096, logPath: null, logMax: 0 }).catch((e: Error) => e);
    expect(err).to.include({ code: 'EEXIST', message: 'console `twice` is already open' });
    await hub.remove('twice');
  });

  it('a console whose log cannot be opened fails to open and leaves no fd', async () => {
    await hub.open('warm', { buffer: 4096, logPath: null, logMax: 0 });
    await hub.remove('warm');
    const before = openFds();
    const err = await hub.open('nolog', { buffer: 4096, logPath: '/nonexistent/skiff/console.log', logMax: 4096 }).catch((e: Error) => e);
    expect(err).to.include({ name: 'ConsoleError', id: 'nolog' });
    expect((err as Error).message).to.match(/^open console `nolog`: ENOENT: no such file or directory, open '\/nonexistent\/skiff\/console.log'$/);
    expect(openFds()).to.deep.equal(before);
    // The id is free again.
    await hub.open('nolog', { buffer: 4096, logPath: null, logMax: 0 });
    await hub.remove('nolog');
  });

  it('ends a console whose slave never opened after the grace period; a late attach replays the ring and ends', async () => {
    const { slavePath } = await hub.open('never', { buffer: 4096, logPath: null, logMax: 0 });
    await hub.exited('never'); // no EIO ever comes: ended after exitGraceMs
    expect((await hub.ring('never')).length).to.equal(0);
    await hub.remove('never');

    const { slavePath: path2 } = await hub.open('late', { buffer: 4096, logPath: null, logMax: 0 });
    const fd = openSync(path2, constants.O_RDWR | constants.O_NOCTTY);
    writeSync(fd, 'one\ntwo\n');
    closeSync(fd);
    await hub.exited('late');
    const client = await hub.attach('late');
    const chunks: Buffer[] = [];
    client.output.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((resolve) => client.output.once('end', resolve));
    expect(Buffer.concat(chunks).toString()).to.equal('one\r\ntwo\r\n');
    expect(slavePath).to.match(/^\/dev\/pts\/\d+$/);
    await hub.remove('late');
  });
});
