// Which stream each byte came from, and when: the ring's chunk index, the record header and
// its decoder (any split of the bytes), and what logs make of records (tail, timestamps).
import { expect } from 'chai';
import { ChunkIndex, decodeRecords, encodeHeader, RecordDecoder, recordsOf, type OutputRecord } from '../../src/forwarder/records.js';
import { lastLines, LogWriter, rfc3339Nano } from '../../src/main/http/log-output.js';

const rec = (stream: 1 | 2, text: string, time = 1_700_000_000_000): OutputRecord => ({ stream, time, data: Buffer.from(text) });
const encoded = (rs: OutputRecord[]): Buffer => Buffer.concat(rs.flatMap((r) => [encodeHeader(r.stream, r.data.length, r.time), r.data]));

describe('console records', () => {
  it('the decoder gives back every byte with its stream and time, however the bytes are split', () => {
    const input = [rec(1, 'out one\n', 1.5), rec(2, 'err\n', 2.25), rec(1, 'x'.repeat(5000), 3)];
    const bytes = encoded(input);
    for (const step of [1, 7, 16, 17, 4096, bytes.length]) {
      const d = new RecordDecoder('test');
      const got: OutputRecord[] = [];
      for (let off = 0; off < bytes.length; off += step) d.push(bytes.subarray(off, off + step), (r) => got.push(r));
      expect(d.partial).to.equal(false);
      for (const s of [1, 2]) {
        expect(Buffer.concat(got.filter((r) => r.stream === s).map((r) => r.data)).toString(), `step ${step}`)
          .to.equal(input.filter((r) => r.stream === s).map((r) => r.data.toString()).join(''));
      }
      expect([...new Set(got.map((r) => `${r.stream}@${r.time}`))]).to.deep.equal(['1@1.5', '2@2.25', '1@3']);
    }
  });

  it('the decoder refuses bytes that are not a record header, quoting them', () => {
    expect(() => decodeRecords(Buffer.from('plain text, not records'), '/x/console.log')).to.throw('/x/console.log: not a record header (bytes 706c6169)');
  });

  it('the chunk index drops from the front exactly as the ring does, and merges a trickle within a ms', () => {
    const idx = new ChunkIndex(8);
    idx.push(1, 10, 100);
    idx.push(1, 5, 100.5); // same stream, same ms: one chunk
    idx.push(2, 4, 100.6);
    idx.push(1, 6, 102);
    expect(idx.count).to.equal(3);
    idx.dropFront(12);
    expect(Array.from(idx.tail(100))).to.deep.equal([1, 3, 100, 2, 4, 100.6, 1, 6, 102]);
    // the last 7 bytes: 1 of stderr's chunk, then stdout's 6
    expect(Array.from(idx.tail(7))).to.deep.equal([2, 1, 100.6, 1, 6, 102]);
    const data = Buffer.from('abcdefg');
    expect(recordsOf(data, idx.tail(7)).map((r) => [r.stream, r.data.toString()])).to.deep.equal([[2, 'a'], [1, 'bcdefg']]);
  });

  it('tail takes lines across records; a trailing newline ends the last line', () => {
    const rs = [rec(1, 'a\nb'), rec(2, 'E\n'), rec(1, 'c\n')];
    expect(lastLines(rs, 1).map((r) => r.data.toString())).to.deep.equal(['c\n']);
    // lines are counted in the order the bytes came, whichever stream: `b` and `E` make one
    expect(lastLines(rs, 2).map((r) => r.data.toString())).to.deep.equal(['b', 'E\n', 'c\n']);
    expect(lastLines(rs, 3)).to.deep.equal(rs);
    expect(lastLines(rs, 0)).to.deep.equal([]);
  });

  it('timestamps: Docker\'s nine fraction digits before each line, a line split over chunks stamped once', () => {
    // a fraction a double holds exactly at this size (a double keeps about 0.25 µs here)
    const t = Date.UTC(2024, 0, 2, 3, 4, 5, 678) + 0.25;
    expect(rfc3339Nano(t)).to.equal('2024-01-02T03:04:05.678250000Z');
    const w = new LogWriter(false, true);
    const out = [rec(1, 'one\ntw', t), rec(2, 'err\n', t), rec(1, 'o\n', t + 1)].map((r) => w.encode(r).toString()).join('');
    const s = '2024-01-02T03:04:05.678250000Z ';
    expect(out).to.equal(`${s}one\n${s}tw${s}err\no\n`);
  });
});
