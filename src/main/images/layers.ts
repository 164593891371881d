// A stored layer blob → its directory under layers/<chain id>, once: unpacked into tmp/, its
// uncompressed digest checked against the config's diff_id, then renamed into place. A layer
// refused half way (a hostile entry, a truncated stream, a digest mismatch) leaves nothing.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, openSync, readSync, closeSync, renameSync, rmSync } from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ImageStore, StoredLayer } from './store.js';
import { unpackTar } from './unpack.js';

/** Layer media types skiff unpacks; the compression is read from the blob's first bytes. */
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** Refuses a media type skiff cannot unpack, naming it. */
export function checkLayerMediaType(mediaType: string, digest: string): void {
  if (LAYER_TYPES.has(mediaType)) return;
  if (mediaType.endsWith('+zstd')) throw new Error(`layer ${digest}: media type ${mediaType} (zstd) is not supported: skiff unpacks tar and gzip layers`);
  throw new Error(`layer ${digest}: unknown layer media type ${JSON.stringify(mediaType)}`);
}

export function head(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The uncompressed tar of a stored layer blob (gzip or plain, by its magic bytes). */
export function openLayerTar(store: ImageStore, digest: string): Readable {
  const path = store.blobPath(digest);
  const magic = head(path);
  if (magic.length >= 4 && magic.readUInt32BE(0) === 0x28b52ffd) throw new Error(`layer ${digest}: the blob is zstd-compressed, which skiff does not unpack`);
  const raw = createReadStream(path);
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gz = createGunzip();
    raw.on('error', (e) => gz.destroy(e));
    return raw.pipe(gz);
  }
  return raw;
}

class Digester extends Transform {
  private readonly h = createHash('sha256');
  override _transform(chunk: Buffer, _e: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.h.update(chunk);
    done(null, chunk);
  }
  digest(): string {
    return `sha256:${this.h.digest('hex')}`;
  }
}

const inflight = new WeakMap<ImageStore, Map<string, Promise<void>>>();

/** Unpacks a layer whose blob is stored, unless its directory exists. Concurrent calls share one unpack. */
export function ensureLayer(store: ImageStore, layer: StoredLayer): Promise<void> {
  if (store.hasLayer(layer.chainId)) return Promise.resolve();
  let map = inflight.get(store);
  if (!map) inflight.set(store, (map = new Map<string, Promise<void>>()));
  const running = map.get(layer.chainId);
  if (running) return running;
  const p = unpackLayer(store, layer).finally(() => map.delete(layer.chainId));
  map.set(layer.chainId, p);
  return p;
}

async function unpackLayer(store: ImageStore, layer: StoredLayer): Promise<void> {
  const tmp = store.tmpPath('layer');
  mkdirSync(tmp, { mode: 0o755 });
  try {
    const tar = openLayerTar(store, layer.digest);
    const digester = new Digester();
    const through = new PassThrough();
    tar.on('error', (e) => through.destroy(e));
    tar.pipe(digester).pipe(through);
    digester.on('error', (e) => through.destroy(e));
    try {
      await unpackTar(through, tmp);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' || /unexpected end/i.test((err as Error).message) ? ' (truncated?)' : '';
      throw new Error(`layer ${layer.digest}: ${(err as Error).message}${why}`, { cause: err });
    }
    // The digest covers every byte of the stream, the tar's end-of-archive padding too.
    await finished(digester);
    const got = digester.digest();
    if (got !== layer.diffId) throw new Error(`layer ${layer.digest}: uncompressed digest ${got} does not match the config's diff_id ${layer.diffId}`);
    renameSync(tmp, store.layerDir(layer.chainId));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
