// The layer unpacker on real tars: whiteouts become overlayfs whiteouts, metadata survives, and
// a hostile entry is refused with nothing written outside the layer directory.
import { expect } from 'chai';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { unpackTar } from '../../src/main/images/unpack.js';
import { lgetxattr } from '../../src/sys/files.js';
import { makeTar, type TarEntry } from '../support/tar.js';
import { TempDirs } from '../support/tmp.js';

describe('image layers: unpacking', () => {
  const tmp = new TempDirs();
  after(() => tmp.removeAll());

  async function unpack(entries: TarEntry[]): Promise<string> {
    const dir = tmp.make('layer');
    await unpackTar(Readable.from(await makeTar(entries)), dir);
    return dir;
  }

  it('keeps files, modes with setuid, owners, hard links, symlinks, devices and times', async () => {
    const d = await unpack([
      { name: 'bin/', type: 'directory', mode: 0o755 },
      { name: 'bin/su', body: 'su', mode: 0o4755, uid: 0, gid: 0 },
      { name: 'bin/su-link', type: 'link', linkname: 'bin/su' },
      { name: 'home/app/notes', body: 'hi', mode: 0o640, uid: 1000, gid: 1001 },
      { name: 'etc/alt', type: 'symlink', linkname: '/does/not/matter' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    ]);
    const su = statSync(`${d}/bin/su`);
    expect(su.mode & 0o7777).to.equal(0o4755);
    expect(statSync(`${d}/bin/su-link`).ino).to.equal(su.ino);
    expect(su.nlink).to.equal(2);
    const notes = statSync(`${d}/home/app/notes`);
    expect([notes.uid, notes.gid, notes.mode & 0o777]).to.deep.equal([1000, 1001, 0o640]);
    expect(readFileSync(`${d}/home/app/notes`, 'utf8')).to.equal('hi');
    expect(notes.mtimeMs).to.equal(1_700_000_000_000);
    expect(readlinkSync(`${d}/etc/alt`)).to.equal('/does/not/matter');
    const dev = lstatSync(`${d}/dev/null`);
    expect(dev.isCharacterDevice()).to.equal(true);
    expect(dev.rdev).to.equal(0x103);
    expect(lstatSync(`${d}/run/fifo`).isFIFO()).to.equal(true);
  });

  it('turns .wh.NAME into a 0:0 character device and .wh..wh..opq into the opaque xattr', async () => {
    const d = await unpack([
      { name: 'etc/.wh.hidden', body: '' },
      { name: 'opt/.wh..wh..opq', body: '' },
      { name: 'opt/only', body: 'upper' },
    ]);
    const w = lstatSync(`${d}/etc/hidden`);
    expect(w.isCharacterDevice()).to.equal(true);
    expect(w.rdev).to.equal(0);
    expect(existsSync(`${d}/etc/.wh.hidden`)).to.equal(false);
    expect(lgetxattr(`${d}/opt`, 'trusted.overlay.opaque')?.toString()).to.equal('y');
    expect(readdirSync(`${d}/opt`)).to.deep.equal(['only']);
  });

  describe('refuses entries that would leave the layer', () => {
    const outside = () => tmp.make('outside');

    async function refused(entries: TarEntry[], message: string): Promise<string> {
      const dir = tmp.make('layer');
      const err = await unpackTar(Readable.from(await makeTar(entries)), dir).then(() => null, (e: Error) => e);
      expect(err?.message).to.equal(message);
      return dir;
    }

    it('an absolute path', async () => {
      const target = outside();
      await refused([{ name: `${target}/x`, body: 'pwned' }], `layer entry ${JSON.stringify(`${target}/x`)}: is an absolute path (a layer may only name paths inside itself)`);
      expect(readdirSync(target)).to.deep.equal([]);
    });

    it('a ".." component', async () => {
      const base = outside();
      mkdirSync(`${base}/layer`);
      const err = await unpackTar(Readable.from(await makeTar([{ name: '../etc/x', body: 'pwned' }])), `${base}/layer`).then(() => null, (e: Error) => e);
      expect(err?.message).to.equal('layer entry "../etc/x": has a ".." component (a layer may only name paths inside itself)');
      expect(readdirSync(base)).to.deep.equal(['layer']);
    });

    it('a write through a symlink that an earlier entry planted', async () => {
      const target = outside();
      await refused([
        { name: 'evil', type: 'symlink', linkname: target },
        { name: 'evil/x', body: 'pwned' },
      ], 'layer entry "evil/x": its parent `evil` is a symlink in this layer: refused (it could lead outside the layer)');
      expect(readdirSync(target)).to.deep.equal([]);
    });

    it('a hard link to a file outside the layer', async () => {
      await refused([{ name: 'x', type: 'link', linkname: '../../../etc/passwd' }], 'layer entry "../../../etc/passwd": has a ".." component (a layer may only name paths inside itself)');
      await refused([{ name: 'x', type: 'link', linkname: '/etc/passwd' }], 'layer entry "/etc/passwd": is an absolute path (a layer may only name paths inside itself)');
    });

    it('a hard link through a planted symlink', async () => {
      await refused([
        { name: 'evil', type: 'symlink', linkname: '/etc' },
        { name: 'x', type: 'link', linkname: 'evil/passwd' },
      ], 'layer entry "x": its parent `evil` is a symlink in this layer: refused (it could lead outside the layer)');
    });

    it('a trusted.* xattr (overlayfs would obey it)', async () => {
      await refused([{ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }],
        'layer entry "d/": sets the xattr "trusted.overlay.redirect", which a layer may not set (only user.* and security.capability)');
    });
  });
});
