// One layer tar → one directory that overlayfs can stack as a lowerdir. A layer is untrusted
// input, so every entry is created inside the layer directory only:
//  - its name is normalised and refused when absolute or when it has a `..` component;
//  - each parent is checked with lstat, component by component, and a symlink there is refused,
//    so an entry can never be written through a symlink that an earlier entry planted (this
//    directory is private to the unpack, so nothing else changes it between check and use);
//  - the last component is opened or created without following a symlink (O_NOFOLLOW, lchown,
//    lutimes), and a hard link's target is checked the same way and must be in this layer.
// OCI whiteouts become overlayfs whiteouts: `.wh.NAME` a 0:0 character device NAME, and
// `.wh..wh..opq` the `trusted.overlay.opaque` xattr on its directory. Ownership, modes (with
// setuid, set after chown, which clears it), devices, hard links, symlinks and xattrs are kept.
import { chmodSync, closeSync, constants as fsc, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync, writeSync, type Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';

/** An entry's body as tar-stream gives it (a streamx Readable). */
type Body = AsyncIterable<unknown> & { resume(): unknown };
import { S_IFBLK, S_IFCHR, S_IFIFO } from '../../sys/constants.js';
import { lsetxattr, mknod } from '../../sys/files.js';

export class LayerError extends Error {
  constructor(readonly entry: string, why: string) {
    super(`layer entry ${JSON.stringify(entry)}: ${why}`);
    this.name = 'LayerError';
  }
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** xattrs a layer may set: not trusted.* (overlayfs reads trusted.overlay.* as its own instructions). */
const XATTR_ALLOWED = /^(user\.|security\.capability$)/;

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** `./a//b/` → ['a', 'b']; refuses absolute names and `..`. */
export function entryParts(name: string): string[] {
  if (name.includes('\0')) throw new LayerError(name, 'contains a NUL byte');
  if (name.startsWith('/')) throw new LayerError(name, 'is an absolute path (a layer may only name paths inside itself)');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new LayerError(name, 'has a ".." component (a layer may only name paths inside itself)');
  return parts;
}

export class LayerWriter {
  /** directories whose times are set last: creating their children changes them */
  private readonly dirTimes: { path: string; mtime: Date }[] = [];

  constructor(private readonly root: string) {}

  /**
   * The parent directory of `parts` inside the layer, every component checked: created (0755,
   * root) where missing, refused where it is a symlink or not a directory.
   */
  private parentOf(name: string, parts: string[]): string {
    let dir = this.root;
    for (const p of parts.slice(0, -1)) {
      dir = `${dir}/${p}`;
      const st = lstatOrNull(dir);
      if (st === null) mkdirSync(dir, { mode: 0o755 });
      else if (st.isSymbolicLink()) throw new LayerError(name, `its parent \`${parts.slice(0, parts.indexOf(p) + 1).join('/')}\` is a symlink in this layer: refused (it could lead outside the layer)`);
      else if (!st.isDirectory()) throw new LayerError(name, `its parent \`${parts.slice(0, parts.indexOf(p) + 1).join('/')}\` is not a directory`);
    }
    return dir;
  }

  /** Clears the way for a new entry: anything there goes, except a directory that stays a directory. */
  private clear(path: string, keepDir: boolean): boolean {
    const st = lstatOrNull(path);
    if (st === null) return false;
    if (keepDir && st.isDirectory()) return true;
    rmSync(path, { recursive: true, force: true });
    return false;
  }

  async entry(h: Header, body: Body): Promise<void> {
    const parts = entryParts(h.name);
    if (parts.length === 0) {
      // The layer's root itself (`./`): its metadata is the image's, not ours to set.
      body.resume();
      return;
    }
    const base = parts[parts.length - 1]!;
    const dir = this.parentOf(h.name, parts);
    const path = `${dir}/${base}`;
    if (base === OPAQUE) {
      body.resume();
      lsetxattr(dir, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (base.startsWith(WHITEOUT)) {
      body.resume();
      const hidden = base.slice(WHITEOUT.length);
      if (hidden === '' || hidden === '.' || hidden === '..') throw new LayerError(h.name, 'is a whiteout of nothing');
      const target = `${dir}/${hidden}`;
      this.clear(target, false);
      mknod(target, S_IFCHR | 0o000, 0, 0);
      return;
    }
    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'directory': {
        body.resume();
        if (!this.clear(path, true)) mkdirSync(path, { mode: 0o700 });
        this.meta(path, h, mode);
        this.dirTimes.push({ path, mtime: h.mtime ?? new Date(0) });
        return;
      }
      case 'file':
      case 'contiguous-file': {
        this.clear(path, false);
        const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of body) writeAll(fd, chunk as Buffer);
          fchownSync(fd, h.uid ?? 0, h.gid ?? 0);
          fchmodSync(fd, mode);
          this.xattrs(path, h);
          const t = h.mtime ?? new Date(0);
          futimesSync(fd, t, t);
        } finally {
          closeSync(fd);
        }
        return;
      }
      case 'symlink': {
        body.resume();
        this.clear(path, false);
        // The target is text the container resolves inside its own root; it is never followed here.
        symlinkSync(h.linkname ?? '', path);
        this.meta(path, h, null);
        return;
      }
      case 'link': {
        body.resume();
        const link = h.linkname ?? '';
        const tparts = entryParts(link);
        if (tparts.length === 0) throw new LayerError(h.name, 'is a hard link to the layer\'s root');
        const target = `${this.parentOf(h.name, tparts)}/${tparts[tparts.length - 1]!}`;
        const st = lstatOrNull(target);
        if (st === null) throw new LayerError(h.name, `is a hard link to \`${link}\`, which is not in this layer`);
        if (st.isDirectory()) throw new LayerError(h.name, `is a hard link to the directory \`${link}\``);
        if (target === path) return;
        this.clear(path, false);
        // link(2) does not follow a symlink target: a link to a symlink links the symlink.
        linkSync(target, path);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        body.resume();
        this.clear(path, false);
        const type = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        mknod(path, type | 0o600, h.devmajor ?? 0, h.devminor ?? 0);
        this.meta(path, h, mode);
        return;
      }
      default:
        body.resume();
        throw new LayerError(h.name, `has tar entry type ${JSON.stringify(h.type)}, which a layer may not contain`);
    }
  }

  /** Owner, then mode (chown clears setuid), xattrs, times; nothing follows a symlink. */
  private meta(path: string, h: Header, mode: number | null): void {
    lchownSync(path, h.uid ?? 0, h.gid ?? 0);
    // chmod follows symlinks, but mode is only given for what this writer just created as a
    // non-symlink, in a directory no one else writes to.
    if (mode !== null) chmodSync(path, mode);
    this.xattrs(path, h);
    const t = h.mtime ?? new Date(0);
    lutimesSync(path, t, t);
  }

  private xattrs(path: string, h: Header): void {
    for (const [k, v] of Object.entries((h.pax ?? {}) as Record<string, string>)) {
      if (!k.startsWith('SCHILY.xattr.')) continue;
      const name = k.slice('SCHILY.xattr.'.length);
      if (!XATTR_ALLOWED.test(name)) throw new LayerError(h.name, `sets the xattr ${JSON.stringify(name)}, which a layer may not set (only user.* and security.capability)`);
      lsetxattr(path, name, Buffer.from(v, 'latin1'));
    }
  }

  /** Directory times last, deepest first: their children are all written by now. */
  finish(): void {
    for (const { path, mtime } of this.dirTimes.reverse()) lutimesSync(path, mtime, mtime);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Unpacks a tar stream into `root` (an empty directory). Rejects on the first refused entry. */
export async function unpackTar(tar: Readable, root: string): Promise<void> {
  const writer = new LayerWriter(root);
  const ex = extract();
  const done = (async () => {
    for await (const e of ex) await writer.entry(e.header, e);
  })();
  tar.on('error', (err) => ex.destroy(err));
  tar.pipe(ex);
  await done;
  writer.finish();
}
