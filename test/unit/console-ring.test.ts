// The ring through a flood: many segments filled and emptied, old bytes dropped in batches past
// its limit: what it holds is always exactly the last `limit` bytes of the output, in order, and
// closing it leaves no fd behind.
import { readdirSync } from 'node:fs';
import { expect } from 'chai';
import { makePipe, Ring } from '../../src/forwarder/ring.js';
import { close, openPath, readRaw } from '../../src/sys/libc.js';
import { O_WRONLY } from '../../src/sys/constants.js';
import { writeRaw } from '../../src/sys/splice.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('console ring: a flood through its segments', () => {
  it('holds exactly the last limit bytes, in order, and closes every pipe it made', () => {
    const before = openFds();
    const devNull = openPath('/dev/null', O_WRONLY);
    const staging = makePipe(256 << 10).pipe;
    const limit = 1 << 20;
    const ring = new Ring(limit, devNull, { get: (n) => Buffer.alloc(n) });
    const sent: Buffer[] = [];
    try {
      // Rounds of varied sizes (a flood's are 64–256 KiB), each a different byte pattern.
      for (let k = 0; k < 60; k++) {
        const size = [64 << 10, 150 << 10, 256 << 10, 4095, 200 << 10][k % 5]!;
        const data = Buffer.alloc(size);
        for (let i = 0; i < size; i++) data[i] = (k * 7 + i) & 0xff;
        expect(writeRaw(staging.write, data)).to.equal(size);
        ring.consumeFrom(staging.read, size, 1, k);
        sent.push(data);
        const all = Buffer.concat(sent);
        const want = all.subarray(Math.max(0, all.length - limit));
        expect(Buffer.compare(Buffer.from(ring.snapshot()), want), `after round ${k}`).to.equal(0);
        expect(ring.bytes).to.equal(want.length);
      }
      // Nothing was left in staging: the ring took every round whole.
      expect(readRaw(staging.read, Buffer.alloc(16))).to.be.lessThan(0);
    } finally {
      ring.close();
      close(staging.read);
      close(staging.write);
      close(devNull);
    }
    expect(openFds(), 'fds open after the ring is closed').to.equal(before);
  });
});
