import { expect } from 'chai';
import { escapeForTerminal, TerminalEscaper } from '../../src/cli/escape.js';
import { DetachWatcher, parseDetachKeys } from '../../src/cli/console.js';

describe('console output escaping (skiff logs on a terminal)', () => {
  it('shows CSI, OSC and bare CR instead of obeying them; keeps text, tabs, newlines and CRLF', () => {
    expect(escapeForTerminal('\x1b[2J\x1b[Hhi')).to.equal('^[[2J^[[Hhi');
    expect(escapeForTerminal('\x1b]0;pwned\x07ok')).to.equal('^[]0;pwned^Gok');
    expect(escapeForTerminal('secret\rpublic\n')).to.equal('secret^Mpublic\n');
    expect(escapeForTerminal('a\tb\r\nc\n')).to.equal('a\tb\nc\n');
    expect(escapeForTerminal('\u009b2J')).to.equal('\\u009b2J');
    expect(escapeForTerminal('héllo ✓\x7f')).to.equal('héllo ✓^?');
  });

  it('streams: a UTF-8 character split across chunks stays whole', () => {
    const e = new TerminalEscaper();
    const bytes = Buffer.from('✓', 'utf8');
    expect(e.push(bytes.subarray(0, 1)) + e.push(bytes.subarray(1))).to.equal('✓');
  });
});

describe('detach keys', () => {
  it('parses ctrl-X sequences and single characters', () => {
    expect(parseDetachKeys('ctrl-]')).to.deep.equal([0x1d]);
    expect(parseDetachKeys('ctrl-p,ctrl-q')).to.deep.equal([0x10, 0x11]);
    expect(parseDetachKeys('x')).to.deep.equal([0x78]);
    expect(() => parseDetachKeys('ctrl-pq')).to.throw('invalid detach key "ctrl-pq" (use ctrl-X or a single character)');
  });

  it('forwards a broken-off prefix and stops at the whole sequence', () => {
    const w = new DetachWatcher([0x10, 0x11]);
    expect(w.feed(Buffer.from([0x61, 0x10, 0x62]))).to.deep.equal({ forward: Buffer.from([0x61, 0x10, 0x62]), detach: false });
    expect(w.feed(Buffer.from([0x63, 0x10]))).to.deep.equal({ forward: Buffer.from([0x63]), detach: false });
    expect(w.feed(Buffer.from([0x11, 0x64]))).to.deep.equal({ forward: Buffer.alloc(0), detach: true });
  });
});
