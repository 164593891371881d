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
    const hub = new ConsoleHub({ threads: 2 });
    const ids = Array.from({ length: 500 }, (_, i) => `many-${i}`);
    const slaves = await Promise.all(ids.map((id) => hub.open(id, { buffer: 16 * 1024, logPath: null, logMax: 0 })));
    expect(threadNames()).to.include.members(['skiff-fwd-0', 'skiff-fwd-1']);
    expect(threadNames().filter((n) => n.startsWith('skiff-fwd-'))).to.have.length(2);
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
