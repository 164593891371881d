// GET /images/{name}/get and `skiff save`: a `docker save` archive (manifest.json, the config
// as <id>.json, each layer uncompressed as <diff id>/layer.tar, and the legacy `repositories`),
// which `docker load` and `skiff load` read back with the same image id (the config's bytes are
// the stored ones). A gzip layer is uncompressed into tmp/ first: a tar entry needs its size up front.
import { createReadStream, rmSync, statSync } from 'node:fs';
import { fileWriteStream } from '../../sys/write-stream.js';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { hex } from './digest.js';
import { openLayerTar } from './layers.js';
import { getImage } from './lookup.js';
import { familiarName, parseReference } from '../../spec/image-reference.js';
import type { ImageStore } from './store.js';

export async function saveArchive(store: ImageStore, names: string[], out: Writable & { writeHead?: (s: number, h: Record<string, string>) => unknown }): Promise<void> {
  const images = names.map((n) => getImage(store, n));
  const p = pack();
  out.writeHead?.(200, { 'Content-Type': 'application/x-tar' });
  const sent = pipeline(p, out);
  const temps: string[] = [];
  const entry = (name: string, data: Buffer) => new Promise<void>((res, rej) => p.entry({ name, mode: 0o644, mtime: new Date(0) }, data, (e) => (e ? rej(e) : res())));
  try {
    const manifest: object[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const written = new Set<string>();
    for (const im of images) {
      await entry(`${hex(im.id)}.json`, store.readBlob(im.id));
      const layers: string[] = [];
      for (const l of im.layers) {
        const name = `${hex(l.diffId)}/layer.tar`;
        layers.push(name);
        if (written.has(name)) continue;
        written.add(name);
        const tmp = store.tmpPath('save');
        temps.push(tmp);
        await pipeline(openLayerTar(store, l.digest), fileWriteStream(tmp, 0o600));
        const size = statSync(tmp).size;
        await new Promise<void>((res, rej) => {
          const sink = p.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (e) => (e ? rej(e) : res()));
          createReadStream(tmp).on('error', rej).pipe(sink);
        });
        rmSync(tmp, { force: true });
      }
      const tags = store.tagsOf(im.id).map(familiarName);
      manifest.push({ Config: `${hex(im.id)}.json`, RepoTags: tags.length ? tags : null, Layers: layers });
      for (const t of store.tagsOf(im.id)) {
        const r = parseReference(t);
        const repo = familiarName(`${r.registry}/${r.repository}`);
        (repositories[repo] ??= {})[r.tag!] = hex(im.layers[im.layers.length - 1]!.diffId);
      }
    }
    await entry('manifest.json', Buffer.from(JSON.stringify(manifest)));
    await entry('repositories', Buffer.from(JSON.stringify(repositories)));
    p.finalize();
    await sent;
  } catch (err) {
    p.destroy(err as Error);
    throw err;
  } finally {
    for (const t of temps) rmSync(t, { force: true });
  }
}
