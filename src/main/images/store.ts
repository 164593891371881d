// The image store under `<state>/images/`, content-addressed:
//
//   blobs/sha256/<hex>     manifests, configs and layer blobs, each verified against its digest
//   layers/<chain hex>/    one directory per layer (by chain id), unpacked once, shared by every
//                          image and container (overlayfs lowerdirs, whiteouts already converted)
//   index.json             images (by id, the config digest) and references (name:tag, name@digest)
//   tmp/                   everything being written; renamed into place only when complete
//
// Every write is a temp file or directory renamed into place, so a pull or load that dies half
// way leaves nothing visible; open() empties tmp/ again and deletes blobs that no image
// references (a killed pull's verified ones). The index is rewritten whole (temp file,
// fdatasync, rename) after each change. Deleting an image deletes what only it used, except what
// a container uses or a pull or load in flight has pinned.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileWriteStream } from '../../sys/write-stream.js';
import { hex, isDigest } from './digest.js';

export interface StoredLayer {
  /** the blob's digest as the manifest names it (compressed or not) */
  digest: string;
  mediaType: string;
  size: number;
  /** the uncompressed tar's digest (the config's rootfs.diff_ids) */
  diffId: string;
  chainId: string;
}

export interface ImageRecord {
  /** the config's digest: Docker's image id */
  id: string;
  /** the manifest's digest when it came from a registry or a layout, else null */
  manifest: string | null;
  /** `name@digest` for each repository it was pulled from */
  repoDigests: string[];
  /** bottom first, as in the manifest */
  layers: StoredLayer[];
  /** when it was stored here (ISO 8601) */
  stored: string;
}

interface IndexFile {
  version: 1;
  images: Record<string, ImageRecord>;
  /** `name:tag` → image id */
  refs: Record<string, string>;
}

/** What containers use: image ids (rmi refuses without force) and layer directories (never deleted). */
export type InUse = () => { images: Set<string>; layerDirs: Set<string> };

/** Counts bytes and hashes them as they pass. */
class Hasher extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly limit: number, private readonly what: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return done(new Error(`${this.what}: more than the ${this.limit} bytes expected`));
    this.hash.update(chunk);
    done(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

export class ImageStore {
  private index: IndexFile = { version: 1, images: {}, refs: {} };
  private readonly inflightBlobs = new Map<string, Promise<void>>();
  private readonly pins = new Map<string, number>();

  constructor(readonly root: string, private readonly inUse: InUse = () => ({ images: new Set(), layerDirs: new Set() })) {}

  /** Creates the directories, throws away what a previous run left half written, reads the index. */
  open(): this {
    rmSync(this.tmpDir, { recursive: true, force: true });
    for (const d of [this.tmpDir, `${this.root}/blobs/sha256`, `${this.root}/layers`]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const file = `${this.root}/index.json`;
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as IndexFile;
      if (parsed.version !== 1) throw new Error(`image index ${file}: version ${String(parsed.version)} is not 1`);
      this.index = parsed;
    }
    this.sweep();
    this.sweepBlobs();
    return this;
  }

  /**
   * Deletes blobs no image references: what a pull or load that skiffd did not live to finish
   * had verified and stored (a failed one discards its own). Only at open, when nothing is in
   * flight: while skiffd runs, a pull's blobs are stored before its image is.
   */
  private sweepBlobs(): void {
    const used = new Set<string>();
    for (const im of this.images()) {
      used.add(hex(im.id));
      if (im.manifest) used.add(hex(im.manifest));
      for (const l of im.layers) used.add(hex(l.digest));
    }
    for (const name of readdirSync(`${this.root}/blobs/sha256`)) if (!used.has(name)) rmSync(`${this.root}/blobs/sha256/${name}`, { force: true });
  }

  /**
   * Deletes layer directories that nothing uses any more: kept by `rmi -f` for a container that
   * has since been removed. Run when skiffd starts and after each image deletion.
   */
  sweep(): string[] {
    const used = new Set(this.images().flatMap((im) => im.layers.map((l) => hex(l.chainId))));
    const containers = this.inUse().layerDirs;
    const gone: string[] = [];
    for (const name of readdirSync(`${this.root}/layers`)) {
      const dir = `${this.root}/layers/${name}`;
      if (used.has(name) || this.pins.has(`sha256:${name}`) || containers.has(dir)) continue;
      if (this.removeLayerDir(dir)) gone.push(`sha256:${name}`);
    }
    return gone;
  }

  get tmpDir(): string {
    return `${this.root}/tmp`;
  }

  /** A fresh name under tmp/ (nothing is created). */
  tmpPath(what: string): string {
    return `${this.tmpDir}/${what}-${randomBytes(6).toString('hex')}`;
  }

  blobPath(digest: string): string {
    if (!isDigest(digest)) throw new Error(`blob path: ${JSON.stringify(digest)} is not a sha256 digest`);
    return `${this.root}/blobs/sha256/${hex(digest)}`;
  }

  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  readBlob(digest: string): Buffer {
    return readFileSync(this.blobPath(digest));
  }

  layerDir(chainId: string): string {
    if (!isDigest(chainId)) throw new Error(`layer path: ${JSON.stringify(chainId)} is not a sha256 chain id`);
    return `${this.root}/layers/${hex(chainId)}`;
  }

  hasLayer(chainId: string): boolean {
    return existsSync(this.layerDir(chainId));
  }

  /**
   * Streams a blob in, hashing as it goes; renamed into blobs/ only when the digest (and the size,
   * when known) match. Two callers of the same digest share one write: a layer downloads once.
   */
  putBlob(digest: string, open: () => Promise<Readable>, size: number | null, what: string): Promise<void> {
    if (this.hasBlob(digest)) return Promise.resolve();
    const running = this.inflightBlobs.get(digest);
    if (running) return running;
    const p = this.writeBlob(digest, open, size, what).finally(() => this.inflightBlobs.delete(digest));
    this.inflightBlobs.set(digest, p);
    return p;
  }

  private async writeBlob(digest: string, open: () => Promise<Readable>, size: number | null, what: string): Promise<void> {
    const tmp = this.tmpPath('blob');
    const hasher = new Hasher(size ?? Number.MAX_SAFE_INTEGER, what);
    try {
      await pipeline(await open(), hasher, fileWriteStream(tmp, 0o600));
      const got = hasher.digest();
      if (size !== null && hasher.bytes !== size) throw new Error(`${what}: got ${hasher.bytes} bytes, expected ${size} (truncated?)`);
      if (got !== digest) throw new Error(`${what}: digest mismatch: expected ${digest}, got ${got} (${hasher.bytes} bytes)`);
      syncFile(tmp);
      renameSync(tmp, this.blobPath(digest));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Moves a file under tmp/ whose digest the caller computed into blobs/ (or drops it if there). */
  adoptBlob(tmpFile: string, digest: string): void {
    if (this.hasBlob(digest)) return rmSync(tmpFile, { force: true });
    syncFile(tmpFile);
    renameSync(tmpFile, this.blobPath(digest));
  }

  /** Stores bytes already in memory (a manifest, a config): returns their digest. */
  putBytes(data: Buffer): string {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (this.hasBlob(digest)) return digest;
    const tmp = this.tmpPath('blob');
    writeFileSync(tmp, data, { mode: 0o600 });
    syncFile(tmp);
    renameSync(tmp, this.blobPath(digest));
    return digest;
  }

  /**
   * After a failed pull or load: deletes the blobs it stored that no image references and no
   * other operation has pinned, so a refused image leaves nothing behind.
   */
  discard(digests: string[], chainIds: string[] = []): void {
    const used = new Set<string>();
    for (const im of this.images()) {
      used.add(im.id);
      if (im.manifest) used.add(im.manifest);
      for (const l of im.layers) used.add(l.digest).add(l.chainId);
    }
    for (const d of digests) if (!used.has(d) && !this.pins.has(d)) rmSync(this.blobPath(d), { force: true });
    const containers = this.inUse().layerDirs;
    for (const c of chainIds) {
      const dir = this.layerDir(c);
      if (used.has(c) || this.pins.has(c) || containers.has(dir)) continue;
      this.removeLayerDir(dir);
    }
  }

  /** Renamed out of sight first: a half-deleted layer must never be visible under layers/. */
  private removeLayerDir(dir: string): boolean {
    const tmp = this.tmpPath('deleted-layer');
    try {
      renameSync(dir, tmp);
    } catch {
      return false;
    }
    rmSync(tmp, { recursive: true, force: true });
    return true;
  }

  /** Keeps blobs and layers from deletion while a pull or load that relies on them runs. */
  pin(keys: string[]): () => void {
    for (const k of keys) this.pins.set(k, (this.pins.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of keys) {
        const n = (this.pins.get(k) ?? 1) - 1;
        if (n <= 0) this.pins.delete(k);
        else this.pins.set(k, n);
      }
    };
  }

  // ── the index ──

  images(): ImageRecord[] {
    return Object.values(this.index.images);
  }

  /** The references (`name:tag`) that point at an image. */
  tagsOf(id: string): string[] {
    return Object.entries(this.index.refs).filter(([, v]) => v === id).map(([k]) => k).sort();
  }

  byRef(ref: string): ImageRecord | null {
    const id = this.index.refs[ref];
    return id === undefined ? null : this.index.images[id] ?? null;
  }

  byId(id: string): ImageRecord | null {
    return this.index.images[id] ?? null;
  }

  /** Adds (or updates) an image and points each reference at it. */
  add(image: ImageRecord, refs: string[]): void {
    const old = this.index.images[image.id];
    const repoDigests = [...new Set([...(old?.repoDigests ?? []), ...image.repoDigests])];
    this.index.images[image.id] = { ...image, repoDigests };
    // An image whose last tag moves to a newer one stays, untagged ("dangling"), as in Docker.
    for (const r of refs) this.index.refs[r] = image.id;
    this.save();
  }

  tag(id: string, ref: string): void {
    if (!this.index.images[id]) throw new Error(`tag: no image ${id}`);
    this.index.refs[ref] = id;
    this.save();
  }

  /** Drops one reference; returns true if it existed. */
  untag(ref: string): boolean {
    if (this.index.refs[ref] === undefined) return false;
    delete this.index.refs[ref];
    this.save();
    return true;
  }

  /** Removes an image record and every reference to it, then deletes what nothing else uses. */
  deleteImage(id: string): string[] {
    const image = this.index.images[id];
    if (!image) return [];
    for (const [r, v] of Object.entries(this.index.refs)) if (v === id) delete this.index.refs[r];
    delete this.index.images[id];
    this.save();
    return [...this.collect(image), ...this.sweep()];
  }

  /** Deletes the blobs and layer directories of a removed image that no image, container or pin still uses. */
  private collect(gone: ImageRecord): string[] {
    const used = new Set<string>();
    for (const im of this.images()) {
      used.add(im.id);
      if (im.manifest) used.add(im.manifest);
      for (const l of im.layers) used.add(l.digest).add(l.chainId);
    }
    const containers = this.inUse();
    const deleted: string[] = [];
    const candidates = [gone.id, ...(gone.manifest ? [gone.manifest] : []), ...gone.layers.map((l) => l.digest)];
    for (const d of candidates) {
      if (used.has(d) || this.pins.has(d)) continue;
      rmSync(this.blobPath(d), { force: true });
      deleted.push(d);
    }
    for (const l of gone.layers) {
      const dir = this.layerDir(l.chainId);
      if (used.has(l.chainId) || this.pins.has(l.chainId) || containers.layerDirs.has(dir)) continue;
      if (this.removeLayerDir(dir)) deleted.push(l.chainId);
    }
    return deleted;
  }

  /** Image ids that containers use. */
  usedImages(): Set<string> {
    return this.inUse().images;
  }

  /** Bytes of an image's layer blobs (what Docker reports as Size, close enough for a listing). */
  size(image: ImageRecord): number {
    return image.layers.reduce((n, l) => n + l.size, 0);
  }

  /** Created time of the blob file, for images without a `created` in their config. */
  blobTime(digest: string): Date {
    return statSync(this.blobPath(digest)).mtime;
  }

  private save(): void {
    const file = `${this.root}/index.json`;
    const tmp = this.tmpPath('index');
    writeFileSync(tmp, JSON.stringify(this.index), { mode: 0o600 });
    syncFile(tmp);
    renameSync(tmp, file);
  }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
