// A real registry for image tests: Debian's docker-registry (Distribution 2.x) on 127.0.0.1 and
// a free port, with a config and storage of its own in a temp dir; stopped by its pid. Images
// are built here as OCI layouts (layers from tar entries, gzip) and pushed with skopeo.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { makeTarGz, type TarEntry } from './tar.js';
import type { TempDirs } from './tmp.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class TestRegistry {
  private child: ChildProcess | null = null;
  port = 0;
  private output = '';

  constructor(private readonly dir: string, private readonly extraConfig = '') {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    mkdirSync(`${this.dir}/storage`, { recursive: true });
    const config = `version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: ${this.dir}/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${this.port}
${this.extraConfig}`;
    writeFileSync(`${this.dir}/config.yml`, config);
    const child = spawn('docker-registry', ['serve', `${this.dir}/config.yml`], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => { this.output += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { this.output += d.toString(); });
    // Poll until the port answers; a generous deadline, no fixed sleep.
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${this.output}`);
      try {
        const res = await fetch(`http://${this.host}/v2/`);
        await res.body?.cancel();
        if (res.status === 200 || res.status === 401) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${this.host} within 30 s: ${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  /**
   * An OCI layout's image (written by writeLayout) pushed through the Distribution API itself:
   * each blob by POST then PUT, then the manifest. For images of many layers, which skopeo
   * pushed one slow blob at a time on a loaded machine (and once stalled on).
   */
  async pushHttp(layout: string, to: string): Promise<void> {
    const index = JSON.parse(readFileSync(`${layout}/index.json`, 'utf8')) as { manifests: { digest: string; mediaType: string }[] };
    const top = index.manifests[0]!;
    const manifest = readFileSync(`${layout}/blobs/sha256/${top.digest.slice(7)}`);
    const m = JSON.parse(manifest.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    const [repo, tag] = to.split(':') as [string, string];
    for (const { digest } of [m.config, ...m.layers]) {
      const start = await fetch(`http://${this.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      await start.body?.cancel();
      const location = start.headers.get('location');
      if (start.status !== 202 || !location) throw new Error(`push ${digest} to ${to}: POST answered ${start.status}`);
      const url = new URL(location, `http://${this.host}`);
      url.searchParams.set('digest', digest);
      const put = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: readFileSync(`${layout}/blobs/sha256/${digest.slice(7)}`) });
      await put.body?.cancel();
      if (put.status !== 201) throw new Error(`push ${digest} to ${to}: PUT answered ${put.status}`);
    }
    const res = await fetch(`http://${this.host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': top.mediaType }, body: manifest });
    if (res.status !== 201) throw new Error(`push the manifest of ${to}: PUT answered ${res.status}: ${await res.text()}`);
  }

  /** skopeo copy of an OCI layout into this registry. */
  push(layout: string, tag: string, to: string, creds?: string): void {
    const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', creds] : []), `oci:${layout}:${tag}`, `docker://${this.host}/${to}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`skopeo copy to ${to}: ${r.stderr}`);
  }
}

export interface LayoutImage {
  layers: TarEntry[][];
  config?: Record<string, unknown>;
  tag: string;
}

function blob(dir: string, data: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(data).digest('hex');
  writeFileSync(`${dir}/blobs/sha256/${hex}`, data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** Writes an OCI image layout with one image (gzip layers): its config digest (the image id), its manifest's and its layers' digests. */
export async function writeLayout(dir: string, image: LayoutImage): Promise<{ id: string; manifest: string; layers: string[] }> {
  mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
  writeFileSync(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers = [];
  const diffIds = [];
  for (const entries of image.layers) {
    const gz = await makeTarGz(entries);
    const { gunzipSync } = await import('node:zlib');
    diffIds.push(`sha256:${createHash('sha256').update(gunzipSync(gz)).digest('hex')}`);
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blob(dir, gz) });
  }
  const config = blob(dir, Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-02T03:04:05Z',
    config: image.config ?? {},
    rootfs: { type: 'layers', diff_ids: diffIds },
  })));
  const manifest = blob(dir, Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers,
  })));
  writeFileSync(`${dir}/index.json`, JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': image.tag } }],
  }));
  return { id: config.digest, manifest: manifest.digest, layers: layers.map((l) => l.digest) };
}

/**
 * A describe's registry: started (in a temp dir of `tmp`) before its tests, stopped after
 * them. Call it before the describe's own hooks, which may then push to it.
 */
export function useRegistry(tmp: TempDirs): { readonly registry: TestRegistry; readonly dir: string } {
  let registry: TestRegistry | null = null;
  let dir = '';
  before(async () => {
    dir = tmp.make('registry');
    registry = new TestRegistry(dir);
    await registry.start();
  });
  after(async () => {
    await registry?.stop();
  });
  return {
    get registry(): TestRegistry {
      if (!registry) throw new Error('the registry is started in before(): use it from a hook or a test');
      return registry;
    },
    get dir(): string {
      return dir;
    },
  };
}
