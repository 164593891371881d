// What the start benchmark launches: one busybox rootfs, used by skiff as `rootfs: DIR` and by
// runc and crun through an OCI bundle made equivalent to skiff's plan — namespaces pid, mount,
// uts, ipc and network; /proc, /dev (tmpfs, devpts, shm) and a read-only /sys; no cgroup
// settings, no masked or read-only paths, no extra mounts; /bin/true with no terminal.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BUSYBOX = '/bin/busybox';

export function buildRootfs(dir: string): string {
  if (!existsSync(BUSYBOX)) throw new Error(`bench: ${BUSYBOX} is missing; install busybox-static (npm run test:deps)`);
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of ['true', 'sh']) symlinkSync('busybox', join(dir, 'bin', a));
  return dir;
}

interface OciMount { destination: string }
interface OciConfig {
  process: { terminal: boolean; args: string[] };
  root: { path: string; readonly: boolean };
  mounts: OciMount[];
  linux: { namespaces: { type: string }[]; resources?: unknown; maskedPaths?: unknown; readonlyPaths?: unknown; cgroupsPath?: unknown };
}

/** An OCI bundle in `dir` whose root is `rootfs`, from `runc spec` trimmed to what skiff does. */
/** Limits for the bundle (runc's linux.resources), to compare a start with cgroup limits. */
export interface BundleLimits { memory: number; cpuQuota: number; cpuPeriod: number; pids: number }

export function writeOciBundle(dir: string, rootfs: string, limits?: BundleLimits): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('runc', ['spec', '--bundle', dir]);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as OciConfig;
  config.process.terminal = false;
  config.process.args = ['/bin/true'];
  config.root = { path: rootfs, readonly: false };
  config.mounts = config.mounts.filter((m) => ['/proc', '/dev', '/dev/pts', '/dev/shm', '/sys'].includes(m.destination));
  config.linux.namespaces = ['pid', 'mount', 'uts', 'ipc', 'network'].map((type) => ({ type }));
  delete config.linux.resources;
  delete config.linux.maskedPaths;
  delete config.linux.readonlyPaths;
  delete config.linux.cgroupsPath;
  if (limits) {
    (config.linux as Record<string, unknown>).resources = {
      memory: { limit: limits.memory }, cpu: { quota: limits.cpuQuota, period: limits.cpuPeriod }, pids: { limit: limits.pids },
    };
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}
