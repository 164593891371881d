// A name as a user writes it → a stored image, as Docker looks one up: a reference
// (`busybox`, `busybox:1`, `name@sha256:…`), a full id (`sha256:…`), or a unique id prefix.
import { lstatSync, readFileSync } from 'node:fs';
import { InvalidArgument, NotFound } from '../lifecycle/errors.js';
import type { ImageConfig } from './manifest.js';
import { formatReference, parseReference, ReferenceError, repoName } from '../../spec/image-reference.js';
import type { ImageRecord, ImageStore } from './store.js';

/** Finds an image; null when there is none by that name. Throws for an ambiguous id prefix. */
export function findImage(store: ImageStore, name: string): ImageRecord | null {
  if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) {
    const hit = store.byId(name.startsWith('sha256:') ? name : `sha256:${name}`);
    if (hit) return hit;
  }
  try {
    const ref = parseReference(name);
    if (ref.digest !== null) {
      const want = `${repoName(ref)}@${ref.digest}`;
      const hit = store.images().find((im) => im.repoDigests.includes(want) || (im.manifest === ref.digest && im.repoDigests.some((d) => d.startsWith(`${repoName(ref)}@`))));
      if (hit) return hit;
    } else {
      const hit = store.byRef(formatReference(ref));
      if (hit) return hit;
    }
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
  }
  const prefix = name.replace(/^sha256:/, '');
  if (/^[a-f0-9]{1,63}$/.test(prefix)) {
    const hits = store.images().filter((im) => im.id.slice(7).startsWith(prefix));
    if (hits.length > 1) throw new InvalidArgument(`image id prefix ${JSON.stringify(name)} is ambiguous: it matches ${hits.length} images`);
    if (hits.length === 1) return hits[0]!;
  }
  return null;
}

/** Like findImage, but a missing image is NotFound, in Docker's words. */
export function getImage(store: ImageStore, name: string): ImageRecord {
  const im = findImage(store, name);
  if (!im) throw new NotFound(`No such image: ${name}`);
  return im;
}

/** What a container run from an image needs: its layer directories (top first) and its config. */
export interface ImageForRun {
  ref: string;
  id: string;
  layers: string[];
  config: NonNullable<ImageConfig['config']>;
  /** the text of a file under the image's /etc as the overlay would show it (passwd, group), or null */
  etc: (name: 'passwd' | 'group') => string | null;
}

export type ImageLookup = (name: string) => ImageForRun | null;

/**
 * What a run needs of an image, by its id: its config and layers never change (the id is the
 * config's digest, the layers are its diff ids), so a fleet of a thousand reads and parses them
 * once. A few dozen images at most are kept; the oldest goes first.
 */
interface RunParts { layers: string[]; config: ImageForRun['config']; etc: Map<string, string | null> }
const RUN_CACHE_SIZE = 32;
const runCache = new WeakMap<ImageStore, Map<string, RunParts>>();

function runParts(store: ImageStore, im: ImageRecord): RunParts {
  let cache = runCache.get(store);
  if (!cache) runCache.set(store, (cache = new Map<string, RunParts>()));
  const hit = cache.get(im.id);
  if (hit) return hit;
  const config = JSON.parse(store.readBlob(im.id).toString('utf8')) as ImageConfig;
  const parts = { layers: im.layers.map((l) => store.layerDir(l.chainId)).reverse(), config: config.config ?? {}, etc: new Map<string, string | null>() };
  if (cache.size >= RUN_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(im.id, parts);
  return parts;
}

export function imageForRun(store: ImageStore, name: string): ImageForRun | null {
  const im = findImage(store, name);
  if (!im) return null;
  const { layers, config, etc } = runParts(store, im);
  const etcOf = (file: 'passwd' | 'group'): string | null => {
    if (!etc.has(file)) etc.set(file, etcFile(layers, file));
    return etc.get(file)!;
  };
  return { ref: name, id: im.id, layers, config, etc: etcOf };
}

/** The topmost layer's /etc/NAME: a regular file is the answer, a whiteout (0:0 device) means none. */
function etcFile(layers: string[], name: string): string | null {
  for (const dir of layers) {
    const st = lstatSync(`${dir}/etc/${name}`, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isFile() && st.size < 1 << 20) return readFileSync(`${dir}/etc/${name}`, 'utf8');
    return null;
  }
  return null;
}
