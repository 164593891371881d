// The last step of a pull or a load: the config checked against its digest and the layers,
// every layer unpacked (once, shared), then the image and its references written to the index.
import { chainIds } from './digest.js';
import { ensureLayer } from './layers.js';
import { parseConfig, type Descriptor, type ImageConfig } from './manifest.js';
import type { ImageRecord, ImageStore, StoredLayer } from './store.js';

export interface Arrived {
  /** the manifest's digest, when the image came with one */
  manifest: string | null;
  config: string;
  /** blobs already in the store, bottom first */
  layers: Descriptor[];
  refs: string[];
  repoDigests: string[];
}

/** The stored layers of an image, with diff ids and chain ids from its config. */
export function storedLayers(config: ImageConfig, layers: Descriptor[]): StoredLayer[] {
  const chains = chainIds(config.rootfs.diff_ids);
  return layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: config.rootfs.diff_ids[i]!, chainId: chains[i]! }));
}

export async function registerImage(store: ImageStore, a: Arrived, onLayer?: (l: StoredLayer, state: 'extracting' | 'done') => void): Promise<ImageRecord> {
  const config = parseConfig(store.readBlob(a.config), `image config ${a.config}`, a.layers.length);
  const layers = storedLayers(config, a.layers);
  const unpin = store.pin([a.config, ...(a.manifest ? [a.manifest] : []), ...layers.flatMap((l) => [l.digest, l.chainId])]);
  const made: string[] = [];
  try {
    // Bottom first: a failure names the lowest bad layer, and nothing is registered.
    for (const l of layers) {
      onLayer?.(l, 'extracting');
      if (!store.hasLayer(l.chainId)) made.push(l.chainId);
      await ensureLayer(store, l);
      onLayer?.(l, 'done');
    }
    const image: ImageRecord = { id: a.config, manifest: a.manifest, repoDigests: a.repoDigests, layers, stored: new Date().toISOString() };
    store.add(image, a.refs);
    return image;
  } catch (err) {
    unpin();
    // The layers this image unpacked go with it, unless something else uses them by now.
    store.discard([], made);
    throw err;
  } finally {
    unpin();
  }
}
