// The image benchmark: pull + unpack of a multi-layer image from a local registry through
// skiffd (POST /images/create, as `skiff pull` does), against `skopeo copy docker://… oci:DIR`
// followed by `umoci unpack` of the same image, in the same run. Each round starts from an
// empty store (the image is removed, which deletes its blobs and layers) and an empty directory.
//
//   node dist/bench/images.js [--rounds N] [--layers L] [--big-mib M] [--json]
//
// The image: L layers (5), each 1000 files of 4 KiB and one M MiB file of random bytes (20),
// gzip: about 100 MB to download.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { open, request } from '../src/api/http-client.js';
import { endChild, runBench, stopPoint } from './stop.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIFFD = join(here, '../src/main/skiffd-main.js');

async function tarOf(entries: { name: string; body: Buffer }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of p) chunks.push(c as Buffer); })();
  for (const e of entries) await new Promise<void>((res, rej) => p.entry({ name: e.name, mode: 0o644 }, e.body, (err) => (err ? rej(err) : res())));
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function blob(dir: string, data: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(data).digest('hex');
  writeFileSync(`${dir}/blobs/sha256/${hex}`, data);
  return { digest: `sha256:${hex}`, size: data.length };
}

async function buildLayout(dir: string, layers: number, bigMiB: number): Promise<number> {
  mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
  writeFileSync(`${dir}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  const descs = [];
  const diffIds = [];
  let bytes = 0;
  for (let l = 0; l < layers; l++) {
    const entries = Array.from({ length: 1000 }, (_, i) => ({ name: `layer${l}/f${i}`, body: Buffer.alloc(4096, `${l}:${i}\n`) }));
    entries.push({ name: `layer${l}/big`, body: randomBytes(bigMiB << 20) });
    const tar = await tarOf(entries);
    diffIds.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    const gz = gzipSync(tar, { level: 1 });
    bytes += gz.length;
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blob(dir, gz) });
  }
  const config = blob(dir, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } })));
  const manifest = blob(dir, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: descs })));
  writeFileSync(`${dir}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
  return bytes;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, layers: { type: 'string' }, 'big-mib': { type: 'string' }, json: { type: 'boolean' } } });
  const rounds = Number(values.rounds ?? 3);
  const layers = Number(values.layers ?? 5);
  const bigMiB = Number(values['big-mib'] ?? 20);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-images-'));
  const procs: ChildProcess[] = [];
  try {
    const compressed = await buildLayout(`${dir}/layout`, layers, bigMiB);
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    writeFileSync(`${dir}/registry.yml`, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/registry\nhttp:\n  addr: ${host}\n`);
    procs.push(spawn('docker-registry', ['serve', `${dir}/registry.yml`], { stdio: 'ignore', detached: true }));
    await until('docker-registry', async () => (await fetch(`http://${host}/v2/`)).ok);
    run('skopeo', ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', `oci:${dir}/layout:1`, `docker://${host}/bench/img:1`]);
    const socket = `${dir}/skiff.sock`;
    procs.push(spawn(process.execPath, [SKIFFD, '--socket', socket, '--state-dir', `${dir}/state`], { stdio: 'ignore', detached: true }));
    await until('skiffd', async () => (await request(socket, 'GET', '/_ping')).status === 200);

    const skiff: number[] = [];
    const skopeo: number[] = [];
    for (let r = 0; r < rounds; r++) {
      await stopPoint();
      let t = process.hrtime.bigint();
      const res = await open(socket, 'POST', `/images/create?fromImage=${encodeURIComponent(`${host}/bench/img:1`)}`);
      let text = '';
      for await (const c of res) text += (c as Buffer).toString();
      if (res.statusCode !== 200 || text.includes('"error"')) throw new Error(`skiff pull: ${res.statusCode} ${text.slice(-500)}`);
      skiff.push(Number(process.hrtime.bigint() - t) / 1e9);
      const rm = await request(socket, 'DELETE', `/images/${encodeURIComponent(`${host}/bench/img:1`)}`);
      if (rm.status !== 200) throw new Error(`rmi: ${rm.text}`);

      const out = `${dir}/skopeo-${r}`;
      mkdirSync(out);
      t = process.hrtime.bigint();
      run('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${host}/bench/img:1`, `oci:${out}/oci:1`]);
      run('umoci', ['unpack', '--image', `${out}/oci:1`, `${out}/bundle`]);
      skopeo.push(Number(process.hrtime.bigint() - t) / 1e9);
      rmSync(out, { recursive: true, force: true });
    }
    const result = { cores: availableParallelism(), layers, compressedMiB: +(compressed / 2 ** 20).toFixed(1), rounds, skiffPullSeconds: +median(skiff).toFixed(3), skopeoUmociSeconds: +median(skopeo).toFixed(3), skiffAll: skiff.map((x) => +x.toFixed(3)), skopeoAll: skopeo.map((x) => +x.toFixed(3)) };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(`image: ${layers} layers, ${result.compressedMiB} MiB gzip, ${layers * 1001} files; ${rounds} rounds, median (all)\n`);
      process.stdout.write(`  skiff pull (download + verify + unpack):   ${result.skiffPullSeconds} s  (${result.skiffAll.join(', ')})\n`);
      process.stdout.write(`  skopeo copy + umoci unpack:                 ${result.skopeoUmociSeconds} s  (${result.skopeoAll.join(', ')})\n`);
    }
  } finally {
    for (const p of procs.reverse()) await endChild(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench/images', main);
