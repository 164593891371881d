// POST /images/load and `skiff load`: a `docker save` archive (manifest.json) or an OCI image
// layout (oci-layout, index.json, blobs/) as a tar stream. Every regular file is written under
// tmp/ as it arrives, hashed on the way; then the archive's own index says which files are
// configs and layers, each is checked against its digest, moved into blobs/, and the images
// are registered. A bad archive leaves nothing (tmp/ is removed whatever happens).
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { InvalidArgument } from '../lifecycle/errors.js';
import { checkDigest } from './digest.js';
import { head } from './layers.js';
import { parseManifest, pickPlatform, type Descriptor } from './manifest.js';
import { formatReference, parseReference } from '../../spec/image-reference.js';
import { registerImage } from './register.js';
import type { ImageStore } from './store.js';

interface Member { file: string; digest: string; size: number }
export interface Loaded { id: string; tags: string[] }

const MAX_MEMBERS = 100_000;

async function receive(body: Readable, dir: string): Promise<Map<string, Member>> {
  const members = new Map<string, Member>();
  const ex = extract();
  body.on('error', (e) => ex.destroy(e));
  body.pipe(ex);
  let n = 0;
  for await (const e of ex) {
    if (e.header.type !== 'file' && e.header.type !== 'contiguous-file') {
      e.resume();
      continue;
    }
    if (++n > MAX_MEMBERS) throw new InvalidArgument(`archive: more than ${MAX_MEMBERS} files`);
    const name = e.header.name.split('/').filter((p) => p !== '' && p !== '.').join('/');
    // Members are only looked up by name, never written by it: their files are numbered.
    const file = `${dir}/${n}`;
    const fd = openSync(file, 'wx', 0o600);
    const h = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of e) {
        const b = chunk as Buffer;
        h.update(b);
        size += b.length;
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off);
      }
    } finally {
      closeSync(fd);
    }
    members.set(name, { file, digest: `sha256:${h.digest('hex')}`, size });
  }
  return members;
}

function member(members: Map<string, Member>, name: string, what: string): Member {
  const m = members.get(name.replace(/^\.\//, ''));
  if (!m) throw new InvalidArgument(`archive: ${what} \`${name}\` is not in the archive`);
  return m;
}

function json(m: Member, what: string): unknown {
  try {
    return JSON.parse(readFileSync(m.file, 'utf8'));
  } catch (err) {
    throw new InvalidArgument(`archive: ${what} is not JSON: ${(err as Error).message}`);
  }
}

/** The reference a tag in an archive names, normalised; null for a bare tag without a name. */
function refOf(tag: string): string | null {
  try {
    const r = parseReference(tag);
    return r.tag !== null && (tag.includes(':') || tag.includes('/')) ? formatReference(r) : null;
  } catch {
    throw new InvalidArgument(`archive: ${JSON.stringify(tag)} is not a valid image reference`);
  }
}

function blobOf(members: Map<string, Member>, d: Descriptor, what: string): Member {
  const m = member(members, `blobs/sha256/${d.digest.slice(7)}`, what);
  if (m.digest !== d.digest) throw new InvalidArgument(`archive: ${what} ${d.digest}: digest mismatch: the file's is ${m.digest}`);
  if (m.size !== d.size) throw new InvalidArgument(`archive: ${what} ${d.digest}: ${m.size} bytes, the descriptor says ${d.size}`);
  return m;
}

async function loadLayout(store: ImageStore, members: Map<string, Member>): Promise<Loaded[]> {
  const indexFile = member(members, 'index.json', 'index');
  const index = parseManifest(readFileSync(indexFile.file), '', 'archive index.json');
  const tops = index.kind === 'index' ? index.manifests : [];
  // The names live in each descriptor's annotations, which the parsed descriptors leave out.
  const raw = json(indexFile, 'index.json') as { manifests: { annotations?: Record<string, string> }[] };
  const out: Loaded[] = [];
  for (const [i, top] of tops.entries()) {
    const ann = raw.manifests[i]?.annotations ?? {};
    const tag = ann['io.containerd.image.name'] ?? ann['org.opencontainers.image.ref.name'];
    let d = top;
    let parsed = parseManifest(readFileSync(blobOf(members, d, 'manifest').file), d.mediaType, `archive manifest ${d.digest}`);
    if (parsed.kind === 'index') {
      d = pickPlatform(parsed.manifests, `archive index ${d.digest}`);
      parsed = parseManifest(readFileSync(blobOf(members, d, 'manifest').file), d.mediaType, `archive manifest ${d.digest}`);
      if (parsed.kind === 'index') throw new InvalidArgument(`archive: manifest ${d.digest} is an index inside an index`);
    }
    const { manifest } = parsed;
    for (const b of [d, manifest.config, ...manifest.layers]) store.adoptBlob(blobOf(members, b, 'blob').file, b.digest);
    const ref = tag ? refOf(tag) : null;
    const image = await registerImage(store, { manifest: d.digest, config: manifest.config.digest, layers: manifest.layers, refs: ref ? [ref] : [], repoDigests: [] });
    out.push({ id: image.id, tags: ref ? [ref] : [] });
  }
  return out;
}

async function loadDockerSave(store: ImageStore, members: Map<string, Member>): Promise<Loaded[]> {
  const list = json(member(members, 'manifest.json', 'manifest'), 'manifest.json');
  if (!Array.isArray(list)) throw new InvalidArgument('archive: manifest.json is not a list');
  const out: Loaded[] = [];
  for (const [i, e] of (list as { Config?: unknown; RepoTags?: unknown; Layers?: unknown }[]).entries()) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) throw new InvalidArgument(`archive: manifest.json[${i}] needs Config and Layers`);
    const config = member(members, e.Config, 'config');
    const names = e.Layers;
    const layers: Descriptor[] = names.map((name) => {
      const m = member(members, name, 'layer');
      const magic = head(m.file);
      const gz = magic[0] === 0x1f && magic[1] === 0x8b;
      return { digest: m.digest, size: m.size, mediaType: gz ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.docker.image.rootfs.diff.tar' };
    });
    store.adoptBlob(config.file, checkDigest(config.digest, 'config'));
    for (const [j, l] of layers.entries()) store.adoptBlob(member(members, names[j]!, 'layer').file, l.digest);
    const tags = (Array.isArray(e.RepoTags) ? e.RepoTags : []).map((t) => refOf(String(t))).filter((t): t is string => t !== null);
    const image = await registerImage(store, { manifest: null, config: config.digest, layers, refs: tags, repoDigests: [] });
    out.push({ id: image.id, tags });
  }
  return out;
}

export async function loadArchive(store: ImageStore, body: Readable): Promise<Loaded[]> {
  const dir = store.tmpPath('load');
  mkdirSync(dir, { mode: 0o700 });
  let members = new Map<string, Member>();
  const had = new Set<string>();
  try {
    members = await receive(body, dir);
    for (const m of members.values()) if (store.hasBlob(m.digest)) had.add(m.digest);
    if (members.has('manifest.json')) return await loadDockerSave(store, members);
    if (members.has('index.json')) return await loadLayout(store, members);
    throw new InvalidArgument('archive: neither a `docker save` archive (manifest.json) nor an OCI image layout (index.json)');
  } catch (err) {
    // A refused archive keeps none of the blobs it brought.
    store.discard([...members.values()].map((m) => m.digest).filter((d) => !had.has(d)));
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
