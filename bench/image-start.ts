// What running from a pulled image costs, against `--image DIR` of the same root, in the same
// run: a skiffd of its own pulls a busybox image from a local docker-registry; `umoci unpack` of
// the same image gives DIR. Then, alternating image and DIR so that a loaded machine's drift
// falls on both alike:
//   1. start cost: K containers one at a time (create, start, wait for /bin/true, remove),
//      wall time each and skiffd's CPU (its own and its launchers') per container;
//   2. a fleet of N `sleep infinity` replicas (POST /fleets, as `skiff fleet up`): time until all
//      run, starts/s, then DELETE.
//
//   node dist/bench/image-start.js [--count K] [--fleet N] [--rounds R] [--json]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fleetRequestBody } from '../src/api/fleet-wire.js';
import type { FleetView } from '../src/api/fleets.js';
import { request } from '../src/api/http-client.js';
import { percentile } from '../src/api/stats.js';
import { loadFleetFile } from '../src/compose/fleet.js';
import { childPids, cmdline, cpuSeconds } from '../src/sys/proc.js';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { endChild, removeContainers, runBench, stopPoint } from './stop.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIFFD = join(here, '../src/main/skiffd-main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An OCI layout of one busybox layer (busybox and the applets the bench runs), tagged 1. */
async function busyboxLayout(dir: string): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of p) chunks.push(c as Buffer); })();
  const add = (h: Parameters<typeof p.entry>[0], body: Buffer | string = '') => new Promise<void>((res, rej) => { p.entry(h, body, (e) => (e ? rej(e) : res())); });
  await add({ name: 'bin/', type: 'directory', mode: 0o755 });
  await add({ name: 'bin/busybox', mode: 0o755 }, readFileSync('/bin/busybox'));
  for (const a of ['sh', 'sleep', 'true']) await add({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  for (const d of ['tmp/', 'etc/']) await add({ name: d, type: 'directory', mode: 0o755 });
  p.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
  const blob = (data: Buffer) => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(`${dir}/blobs/sha256/${hex}`, data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layer = blob(gzipSync(tar));
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(tar).digest('hex')}`] } })));
  const manifest = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }] })));
  writeFileSync(`${dir}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(`${dir}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}


function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/**
 * CPU seconds of skiffd, its launcher workers and what they reaped: the containers' PID 1s,
 * whose plan (the overlay mount among it) runs before their exec. /bin/true's own CPU is in it
 * too, the same for both kinds.
 */
function daemonCpu(pid: number): number {
  const launchers = childPids(pid).filter((p) => cmdline(p)?.startsWith('skiff-launcher'));
  return [pid, ...launchers].reduce((n, p) => n + (cpuSeconds(p, true) ?? 0), 0);
}

async function api(socket: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await request(socket, method, path, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

/** One container: create, start, wait for its exit, remove; milliseconds. */
async function once(socket: string, name: string, image: string): Promise<number> {
  const t0 = performance.now();
  await api(socket, 'POST', `/containers/create?name=${name}`, { Image: image, Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none' } });
  await api(socket, 'POST', `/containers/${name}/start`);
  const w = await api(socket, 'POST', `/containers/${name}/wait`) as { StatusCode: number };
  const ms = performance.now() - t0;
  if (w.StatusCode !== 0) throw new Error(`${name} exited with ${w.StatusCode}`);
  await api(socket, 'DELETE', `/containers/${name}`);
  return ms;
}

/** A fleet of n sleepers of `image`: seconds until all run (POST to the last start seen). */
async function fleetUp(socket: string, dir: string, name: string, image: string, n: number): Promise<number> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nservices:\n  s:\n    image: ${image}\n    command: [sleep, "100000"]\n    deploy: { replicas: ${n} }\n    x-skiff: { console: { buffer: 16KiB } }\n`);
  const body = fleetRequestBody(await loadFleetFile(file));
  const t0 = performance.now();
  await api(socket, 'POST', '/fleets', body);
  for (let ms = 20; ; ms = Math.min(ms * 2, 200)) {
    const v = await api(socket, 'GET', `/fleets/${name}?containers=0`) as FleetView;
    if (v.totals.running === n) return (performance.now() - t0) / 1000;
    if (v.operation?.state !== 'running' && v.totals.running + v.totals.failed === n) throw new Error(`fleet ${name}: ${v.totals.failed} failed`);
    await sleep(ms);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' }, fleet: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'boolean' } } });
  const count = Number(values.count ?? 100);
  const fleetN = Number(values.fleet ?? 1000);
  const rounds = Number(values.rounds ?? 2);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-image-start-'));
  let skiffd: ChildProcess | null = null;
  const socket = join(dir, 'skiff.sock');
  let registry: ChildProcess | null = null;
  try {
    const layout = join(dir, 'layout');
    await busyboxLayout(layout);
    const host = `127.0.0.1:${await freePort()}`;
    writeFileSync(`${dir}/registry.yml`, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/registry\nhttp:\n  addr: ${host}\n`);
    registry = spawn('docker-registry', ['serve', `${dir}/registry.yml`], { stdio: 'ignore', detached: true });
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://${host}/v2/`)).ok) break;
      } catch { /* not up yet */ }
      if (i > 300) throw new Error('docker-registry did not answer');
      await sleep(50);
    }
    run('skopeo', ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${host}/bench/bb:1`]);
    const ref = `${host}/bench/bb:1`;
    run('umoci', ['unpack', '--image', `${layout}:1`, join(dir, 'bundle')]);
    const rootDir = join(dir, 'bundle', 'rootfs');
    skiffd = spawn(process.execPath, [SKIFFD, '--socket', socket, '--state-dir', join(dir, 'state')], { stdio: 'ignore', detached: true });
    for (let i = 0; ; i++) {
      try {
        if ((await request(socket, 'GET', '/_ping')).status === 200) break;
      } catch { /* not up yet */ }
      if (i > 300) throw new Error('skiffd did not answer');
      await sleep(50);
    }
    const pulled = await request(socket, 'POST', `/images/create?fromImage=${encodeURIComponent(ref)}`);
    if (pulled.status !== 200 || pulled.text.includes('"error"')) throw new Error(`pull: ${pulled.text}`);
    const pid = skiffd.pid!;

    // Warm-up: each kind once.
    await once(socket, 'warm-image', ref);
    await once(socket, 'warm-dir', rootDir);

    const kinds = [['image', ref], ['dir', rootDir]] as const;
    const lat: Record<string, number[]> = { image: [], dir: [] };
    const cpu: Record<string, number> = { image: 0, dir: 0 };
    for (let i = 0; i < count; i++) {
      await stopPoint();
      for (const [kind, image] of i % 2 === 0 ? kinds : [...kinds].reverse()) {
        const c0 = daemonCpu(pid);
        lat[kind]!.push(await once(socket, `${kind}-${i}`, image));
        cpu[kind]! += daemonCpu(pid) - c0;
      }
    }
    const fleet: Record<string, number[]> = { image: [], dir: [] };
    for (let r = 0; r < rounds; r++) {
      await stopPoint();
      for (const [kind, image] of r % 2 === 0 ? kinds : [...kinds].reverse()) {
        fleet[kind]!.push(await fleetUp(socket, dir, `f${kind}${r}`, image, fleetN));
        await api(socket, 'DELETE', `/fleets/f${kind}${r}`);
      }
    }
    for (const k of ['image', 'dir']) lat[k]!.sort((a, b) => a - b);
    const result = {
      cores: availableParallelism(), loadAverage1m: +loadavg()[0]!.toFixed(2), count, fleet: fleetN, rounds,
      startMsP50: { image: +percentile(lat.image!, 50).toFixed(2), dir: +percentile(lat.dir!, 50).toFixed(2) },
      startMsP90: { image: +percentile(lat.image!, 90).toFixed(2), dir: +percentile(lat.dir!, 90).toFixed(2) },
      daemonCpuMsPerStart: { image: +((cpu.image! / count) * 1000).toFixed(2), dir: +((cpu.dir! / count) * 1000).toFixed(2) },
      fleetSeconds: fleet,
      fleetStartsPerSecond: { image: fleet.image!.map((s) => +(fleetN / s).toFixed(1)), dir: fleet.dir!.map((s) => +(fleetN / s).toFixed(1)) },
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
      process.stdout.write(`busybox image vs --image DIR (umoci unpack of it); ${result.cores} cores, load ${result.loadAverage1m}\n`);
      process.stdout.write(`  start, one at a time (${count} each): p50 ${result.startMsP50.image} ms vs ${result.startMsP50.dir} ms (${ratio(result.startMsP50.image, result.startMsP50.dir)}), p90 ${result.startMsP90.image} vs ${result.startMsP90.dir}\n`);
      process.stdout.write(`  CPU per start (skiffd, launchers, reaped PID 1s): ${result.daemonCpuMsPerStart.image} ms vs ${result.daemonCpuMsPerStart.dir} ms\n`);
      process.stdout.write(`  fleet of ${fleetN} running: image ${fleet.image!.map((s) => s.toFixed(2)).join(', ')} s (${result.fleetStartsPerSecond.image.join(', ')}/s) vs dir ${fleet.dir!.map((s) => s.toFixed(2)).join(', ')} s (${result.fleetStartsPerSecond.dir.join(', ')}/s)\n`);
    }
  } finally {
    if (skiffd) {
      await removeContainers(socket);
      await endChild(skiffd);
    }
    if (registry) await endChild(registry);
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench/image-start', main);
