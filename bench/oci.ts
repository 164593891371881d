// The OCI runtime benchmark: `ctr run --rm IMAGE ID /bin/true` under a containerd of its own
// (config, root, state and socket in a temp dir), with --runc-binary set to skiff-oci, runc and
// crun in turn, round-robin in the same run so that the machine's load weighs on all alike.
// Each ctr run is the whole engine path: containerd → the runc v2 shim → the runtime's create,
// start, delete and delete --force calls, as separate processes. skiff-oci is the C front end
// (build/skiff-oci, with its warm server per --root), skiff-oci-node the Node command line alone
// (SKIFF_OCI_SERVER=0's path). Also times one bare call of each (a `state` of nothing).
//
//   node dist/bench/oci.js [--count N] [--runtimes skiff-oci,skiff-oci-node,runc,crun] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../src/api/stats.js';
import { endChild, runBench, stopPoint } from './stop.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = resolve(HERE, existsSync(resolve(HERE, '../../package.json')) ? '../..' : '..');
const SKIFF_OCI = join(PROJECT, 'build/skiff-oci');
const SKIFF_OCI_NODE = join(PROJECT, 'bin/skiff-oci.js');
const RUNTIMES: Record<string, string> = { 'skiff-oci': SKIFF_OCI, 'skiff-oci-node': SKIFF_OCI_NODE, runc: '/usr/sbin/runc', crun: '/usr/bin/crun' };
const IMAGE = 'docker.io/library/skiff-oci-bench:1';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** A one-layer busybox OCI image archive (an OCI layout, tarred), written here with tar and gzip. */
function imageTar(dir: string): string {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'true']) symlinkSync('busybox', join(rootfs, 'bin', a));
  const layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const h = createHash('sha256').update(b).digest('hex');
    writeFileSync(join(layout, 'blobs/sha256', h), b);
    return { digest: `sha256:${h}`, size: b.length };
  };
  const layerTar = join(dir, 'layer.tar');
  if (spawnSync('tar', ['-C', rootfs, '-cf', layerTar, '.']).status !== 0) throw new Error('tar of the image layer failed');
  const tar = readFileSync(layerTar);
  const layer = put(gzipSync(tar));
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(tar).digest('hex')}`] } })));
  const manifest = put(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  })));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': IMAGE } }],
  }));
  const out = join(dir, 'image.tar');
  if (spawnSync('tar', ['-C', layout, '-cf', out, '.']).status !== 0) throw new Error('tar of the image layout failed');
  return out;
}

/** Ends skiff-oci's servers for these roots (they would end by idleness anyway). */
function stopServers(roots: string[]): void {
  for (const root of roots) {
    try {
      process.kill(Number(readFileSync(join(root, 'skiff-oci:server/server.pid'), 'utf8')), 'SIGTERM');
    } catch {
      // none running
    }
  }
}

async function main(): Promise<void> {
  const count = Number(arg('count', '20'));
  const names = arg('runtimes', 'skiff-oci,skiff-oci-node,runc,crun').split(',');
  for (const n of names) if (!RUNTIMES[n] || !existsSync(RUNTIMES[n])) throw new Error(`runtime ${n}: not installed`);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-oci-'));
  const paths = { ...RUNTIMES };
  // crun refuses hybrid cgroups while the controller-less cgroup2 is mounted: each of its calls
  // runs in a private mount namespace without it (unshare and umount cost a few ms per call).
  if (names.includes('crun') && existsSync('/sys/fs/cgroup/unified/cgroup.procs')) {
    paths.crun = join(dir, 'crun-hybrid');
    writeFileSync(paths.crun, `#!/bin/sh\nexec unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec /usr/bin/crun "$@"' crun "$@"\n`, { mode: 0o755 });
  }
  const sock = join(dir, 'c.sock');
  writeFileSync(join(dir, 'config.toml'), ['version = 2', `root = "${dir}/root"`, `state = "${dir}/state"`, 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = "${sock}"`, '[ttrpc]', `  address = "${sock}.ttrpc"`, ''].join('\n'));
  const log = openSync(join(dir, 'containerd.log'), 'w');
  const containerd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const ctr = (args: string[]): { code: number; err: string } => {
    const r = spawnSync('ctr', ['--address', sock, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { code: r.status ?? -1, err: r.stderr?.toString() ?? '' };
  };
  try {
    for (let i = 0; !(existsSync(sock) && ctr(['version']).code === 0); i++) {
      if (i > 600) throw new Error('containerd did not answer');
      await new Promise((r) => setTimeout(r, 50));
    }
    const imported = ctr(['images', 'import', imageTar(dir)]);
    if (imported.code !== 0) throw new Error(`ctr images import: ${imported.err}`);
    const times = new Map<string, number[]>(names.map((n) => [n, []]));
    const failures = new Map<string, string>();
    for (let i = -1; i < count; i++) { // i = -1: one warm-up round, not counted
      await stopPoint();
      for (const n of names) {
        if (failures.has(n)) continue;
        const t0 = process.hrtime.bigint();
        const r = ctr(['run', '--rm', '--runc-binary', paths[n]!, '--runc-root', join(dir, `root-${n}`), IMAGE, `b-${n}-${i + 1}`, '/bin/true']);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.code !== 0) failures.set(n, r.err.trim().split('\n').pop() ?? `exit ${r.code}`);
        else if (i >= 0) times.get(n)!.push(ms);
      }
    }
    mkdirSync(join(dir, 'bare'));
    const bareOf = (path: string): number[] => {
      const t: number[] = [];
      for (let i = -1; i < count; i++) {
        const t0 = process.hrtime.bigint();
        spawnSync(path, ['--root', join(dir, 'bare'), 'state', 'none'], { stdio: 'ignore' });
        if (i >= 0) t.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      return t.sort((a, b) => a - b);
    };
    const bare = new Map(['skiff-oci', 'skiff-oci-node', 'runc'].map((n) => [n, bareOf(RUNTIMES[n]!)]));
    const rows = names.map((n) => {
      const t = times.get(n)!.sort((a, b) => a - b);
      return { runtime: n, runs: t.length, p50: percentile(t, 50), p90: percentile(t, 90), mean: t.reduce((a, b) => a + b, 0) / Math.max(1, t.length), failed: failures.get(n) ?? null };
    });
    const calls = Object.fromEntries([...bare].map(([n, t]) => [n, { p50: percentile(t, 50), p90: percentile(t, 90) }]));
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify({ count, rows, bareCall: calls }));
    } else {
      console.log(`load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
      console.log(`ctr run --rm IMAGE ID /bin/true, ${count} runs each (round-robin, after one warm-up round), wall ms:`);
      for (const r of rows) {
        console.log(`  ${r.runtime.padEnd(10)} ${r.failed !== null ? `FAILED: ${r.failed}` : `p50 ${r.p50.toFixed(0)}  p90 ${r.p90.toFixed(0)}  mean ${r.mean.toFixed(0)}`}`);
      }
      console.log('one bare call (state of nothing, after one warm-up), wall ms:');
      for (const [n, c] of Object.entries(calls)) console.log(`  ${n.padEnd(14)} p50 ${c.p50.toFixed(1)}  p90 ${c.p90.toFixed(1)}`);
    }
  } finally {
    await endChild(containerd);
    stopServers([join(dir, 'root-skiff-oci', 'default'), join(dir, 'bare')]);
    spawnSync('umount', ['-R', join(dir, 'root')], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench/oci', main);
