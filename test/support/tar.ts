// Builds tar archives in memory for image tests: layers (hostile ones too) and archives to load.
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

export type TarEntry = Partial<Header> & { name: string; body?: string | Buffer };

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const { body, ...h } = e;
    await new Promise<void>((resolve, reject) => {
      p.entry({ mode: h.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_700_000_000_000), ...h }, body ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function makeTarGz(entries: TarEntry[]): Promise<Buffer> {
  return gzipSync(await makeTar(entries));
}
