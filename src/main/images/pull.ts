// `skiff pull REF` and POST /images/create: a reference → manifest (an index resolved to
// linux/amd64) → config → layer blobs (each downloaded once, verified as it streams in), each
// unpacked as soon as it is whole → the image and its tag in the index. Progress goes to a callback in Docker's
// words (Pulling fs layer, Downloading, Download complete, Extracting, Pull complete).
import { sha256 } from './digest.js';
import { parseConfig, parseManifest, pickPlatform, type ImageManifest } from './manifest.js';
import { formatReference, repoName, type Reference } from '../../spec/image-reference.js';
import { ensureLayer } from './layers.js';
import { registerImage, storedLayers } from './register.js';
import { RegistryClient, type Credentials } from './registry.js';
import type { ImageRecord, ImageStore } from './store.js';

export interface PullProgress {
  /** a layer's short id (12 hex digits), or null for the image as a whole */
  id: string | null;
  status: string;
  current?: number;
  total?: number;
}

export interface PullOptions {
  insecure: ReadonlySet<string>;
  credentials: Credentials | null;
  onProgress?: (p: PullProgress) => void;
}

export interface Resolved {
  client: RegistryClient;
  /** the digest of what the reference named (an index or a manifest): the RepoDigest */
  digest: string;
  manifestDigest: string;
  manifest: ImageManifest;
  manifestBytes: Buffer;
}

const short = (digest: string) => digest.slice(7, 19);

/**
 * Fetches and checks the manifest (through an index if there is one). Separate from the
 * download so that the API can answer a missing image with 404 before it starts streaming.
 */
export async function resolve(ref: Reference, o: PullOptions): Promise<Resolved> {
  const client = new RegistryClient(ref, o.insecure, o.credentials);
  const name = formatReference(ref);
  const top = await client.manifest(ref.digest ?? ref.tag!);
  const digest = sha256(top.body);
  if (ref.digest !== null && digest !== ref.digest) throw new Error(`manifest of ${name}: digest mismatch: asked for ${ref.digest}, got ${digest}`);
  let parsed = parseManifest(top.body, top.mediaType, `manifest of ${name}`);
  let manifestDigest = digest;
  let manifestBytes = top.body;
  if (parsed.kind === 'index') {
    const pick = pickPlatform(parsed.manifests, `manifest of ${name}`);
    const m = await client.manifest(pick.digest);
    manifestDigest = sha256(m.body);
    if (manifestDigest !== pick.digest) throw new Error(`manifest ${pick.digest} of ${name}: digest mismatch: got ${manifestDigest}`);
    manifestBytes = m.body;
    parsed = parseManifest(m.body, m.mediaType, `manifest ${pick.digest} of ${name}`);
    if (parsed.kind === 'index') throw new Error(`manifest ${pick.digest} of ${name}: an index inside an index`);
  }
  return { client, digest, manifestDigest, manifest: parsed.manifest, manifestBytes };
}

export async function pull(store: ImageStore, ref: Reference, r: Resolved, o: PullOptions): Promise<ImageRecord> {
  const say = o.onProgress ?? (() => {});
  const { client, manifest } = r;
  const mine = [manifest.config.digest, r.manifestDigest, ...manifest.layers.map((l) => l.digest)];
  const had = new Set(mine.filter((d) => store.hasBlob(d)));
  const unpin = store.pin(mine);
  /** layer directories this pull unpacked: discarded with its blobs if it fails */
  const made: string[] = [];
  let unpinLayers = () => {};
  let ok = false;
  try {
    await store.putBlob(manifest.config.digest, () => client.blob(manifest.config.digest), manifest.config.size, `config ${manifest.config.digest}`);
    const layers = storedLayers(parseConfig(store.readBlob(manifest.config.digest), `image config ${manifest.config.digest}`, manifest.layers.length), manifest.layers);
    unpinLayers = store.pin(layers.map((l) => l.chainId));
    for (const l of manifest.layers) say({ id: short(l.digest), status: 'Pulling fs layer' });
    // Layers download side by side (the store shares one download between pulls of the same
    // blob), and each is unpacked as soon as it is whole, while the others still download:
    // every layer has a directory of its own, so none waits for the one below it.
    const settled = await Promise.allSettled(layers.map(async (l) => {
      if (store.hasBlob(l.digest)) say({ id: short(l.digest), status: 'Already exists' });
      else {
        let current = 0;
        await store.putBlob(l.digest, async () => {
          const s = await client.blob(l.digest);
          s.on('data', (chunk: Buffer) => {
            current += chunk.length;
            say({ id: short(l.digest), status: 'Downloading', current, total: l.size });
          });
          return s;
        }, l.size, `layer ${l.digest} of ${formatReference(ref)}`);
        say({ id: short(l.digest), status: 'Download complete' });
      }
      if (store.hasLayer(l.chainId)) return;
      made.push(l.chainId);
      say({ id: short(l.digest), status: 'Extracting' });
      await ensureLayer(store, l);
      say({ id: short(l.digest), status: 'Pull complete' });
    }));
    // Every layer settled before a failure is reported: the cleanup below must not race a
    // download or an unpack still writing (it would leave what it wrote after the discard).
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
    store.putBytes(r.manifestBytes);
    const image = await registerImage(store, {
      manifest: r.manifestDigest,
      config: manifest.config.digest,
      layers: manifest.layers,
      refs: ref.tag !== null ? [formatReference(ref)] : [],
      repoDigests: [`${repoName(ref)}@${r.digest}`],
    });
    ok = true;
    return image;
  } finally {
    unpin();
    unpinLayers();
    // A refused pull keeps nothing it downloaded or unpacked (another pull's stay pinned).
    if (!ok) store.discard(mine.filter((d) => !had.has(d)), made);
  }
}
