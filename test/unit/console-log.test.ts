// The console log file skiffd (root) opens at a path from a spec: only a regular file, never
// through a symlink, never a FIFO (whose open would block) or a device.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { RotatingLog } from '../../src/forwarder/log.js';
import { TempDirs } from '../support/tmp.js';

describe('console log file', () => {
  const tmp = new TempDirs();
  after(() => tmp.removeAll());

  it('refuses a symlink, a FIFO, a device and a directory; takes a regular file and appends to it', () => {
    const dir = tmp.make('log');
    const target = join(dir, 'target');
    writeFileSync(target, 'keep me\n');
    symlinkSync(target, join(dir, 'link'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3']);
    mkdirSync(join(dir, 'dir'));

    expect(() => new RotatingLog(join(dir, 'link'), 1 << 20)).to.throw(/ELOOP/);
    expect(() => new RotatingLog(join(dir, 'fifo'), 1 << 20)).to.throw(/ENXIO/); // no reader: refused at once, not blocked
    expect(() => new RotatingLog(join(dir, 'null'), 1 << 20)).to.throw(`console log \`${join(dir, 'null')}\` is not a regular file`);
    expect(() => new RotatingLog(join(dir, 'dir'), 1 << 20)).to.throw(/EISDIR/);
    expect(readFileSync(target, 'utf8')).to.equal('keep me\n');

    const log = new RotatingLog(target, 1 << 20);
    expect(log.size).to.equal('keep me\n'.length);
    log.close();
  });
});
