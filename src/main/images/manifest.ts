// Manifests, indexes and image configs as JSON: read strictly enough that what the store and
// the unpacker rely on is there and well formed, and each error names what was wrong.
import { checkDigest } from './digest.js';
import { checkLayerMediaType } from './layers.js';
import { MANIFEST_TYPES } from './registry.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface ImageManifest {
  config: Descriptor;
  layers: Descriptor[];
}

/** The parts of an image config skiff uses (the OCI image spec's names, which Docker shares). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    ExposedPorts?: Record<string, object> | null;
    Volumes?: Record<string, object> | null;
    /** Docker's health check (durations in ns), read where a container is made (src/main/docker/health.ts) */
    Healthcheck?: unknown;
  } | null;
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
}

function parse(body: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new Error(`${what}: not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: not a JSON object`);
  return v as Record<string, unknown>;
}

function descriptor(v: unknown, what: string): Descriptor {
  if (typeof v !== 'object' || v === null) throw new Error(`${what}: not a descriptor object`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') throw new Error(`${what}.mediaType: missing`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new Error(`${what}.size: not a byte count`);
  return { mediaType: d.mediaType, digest: checkDigest(d.digest, `${what}.digest`), size: d.size, ...(typeof d.platform === 'object' && d.platform ? { platform: d.platform } : {}) };
}

export type Parsed = { kind: 'index'; manifests: Descriptor[] } | { kind: 'manifest'; manifest: ImageManifest };

/** An index or an image manifest, by its media type (the header's, else the document's own). */
export function parseManifest(body: Buffer, headerType: string, what: string): Parsed {
  const m = parse(body, what);
  const type = typeof m.mediaType === 'string' ? m.mediaType : headerType;
  if (type === MANIFEST_TYPES.ociIndex || type === MANIFEST_TYPES.dockerList || (type === '' && Array.isArray(m.manifests))) {
    if (!Array.isArray(m.manifests)) throw new Error(`${what}: an index without "manifests"`);
    return { kind: 'index', manifests: m.manifests.map((d, i) => descriptor(d, `${what}.manifests[${i}]`)) };
  }
  if (type === MANIFEST_TYPES.ociManifest || type === MANIFEST_TYPES.dockerManifest || (type === '' && m.config !== undefined)) {
    if (!Array.isArray(m.layers)) throw new Error(`${what}: a manifest without "layers"`);
    const layers = m.layers.map((d, i) => descriptor(d, `${what}.layers[${i}]`));
    for (const l of layers) checkLayerMediaType(l.mediaType, l.digest);
    return { kind: 'manifest', manifest: { config: descriptor(m.config, `${what}.config`), layers } };
  }
  throw new Error(`${what}: unknown manifest media type ${JSON.stringify(type)} (skiff reads OCI and Docker v2 schema 2 manifests and indexes)`);
}

/** The linux/amd64 entry of an index, as Docker picks it on this machine. */
export function pickPlatform(manifests: Descriptor[], what: string): Descriptor {
  const found = manifests.find((d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64');
  if (found) return found;
  const have = manifests.map((d) => (d.platform ? `${d.platform.os ?? '?'}/${d.platform.architecture ?? '?'}${d.platform.variant ? `/${d.platform.variant}` : ''}` : 'no platform'));
  throw new Error(`${what}: no manifest for linux/amd64 in the index (it has: ${have.join(', ') || 'nothing'})`);
}

export function parseConfig(body: Buffer, what: string, layerCount: number): ImageConfig {
  const c = parse(body, what) as unknown as ImageConfig;
  if (typeof c.rootfs !== 'object' || c.rootfs === null || !Array.isArray(c.rootfs.diff_ids)) throw new Error(`${what}: no rootfs.diff_ids`);
  c.rootfs.diff_ids.forEach((d, i) => checkDigest(d, `${what}: rootfs.diff_ids[${i}]`));
  if (c.rootfs.diff_ids.length !== layerCount) throw new Error(`${what}: rootfs.diff_ids has ${c.rootfs.diff_ids.length} entries for ${layerCount} layers`);
  if (c.os !== undefined && c.os !== 'linux') throw new Error(`${what}: the image is for ${c.os}, not linux`);
  return c;
}
