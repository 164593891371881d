// The state of skiff-oci's containers: one directory per id under --root, holding state.json
// (written whole: temp file, fsync, rename) and exec.fifo (the start fifo, gone once started).
// A call that changes a container holds its lock: an abstract unix socket named after the
// root and the id, bound for the call's duration. The kernel drops it however the process
// ends, so there is never a stale lock, and taking it needs no native code (koffi's load alone
// would cost more than a call's work).
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { OciError, fsMessage } from './errors.js';

export const DEFAULT_ROOT = '/run/skiff-oci';

/** What `create` records, and every later call reads. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  /** the init's pid in skiff-oci's pid namespace */
  pid: number;
  /** the init's start time (/proc/PID/stat field 22): a pid reused by another process is not ours */
  startTime: number;
  bundle: string;
  rootfs: string;
  /** RFC 3339 */
  created: string;
  annotations: Record<string, string>;
  /** the container's cgroup directories, one per hierarchy, that create made (and delete removes) */
  cgroups: string[];
  /** directories above them that create made, deepest first: removed at delete when empty */
  cgroupParents: string[];
  /** hooks that run after create: kept here because the bundle may change or go */
  hooks: { poststart: Hook[]; poststop: Hook[]; startContainer: Hook[] };
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export function containerDir(root: string, id: string): string {
  return join(root, id);
}

export function fifoPath(root: string, id: string): string {
  return join(root, id, 'exec.fifo');
}

/** The record, or null if there is no such container. */
export function readRecord(root: string, id: string): ContainerRecord | null {
  const path = join(root, id, 'state.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new OciError(fsMessage('read', path, err), { cause: err });
  }
  try {
    return JSON.parse(text) as ContainerRecord;
  } catch (err) {
    throw new OciError(`state of container ${id} at \`${path}\` is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** The record, or runc's error for a missing container (containerd and podman match on it). */
export function mustRecord(root: string, id: string): ContainerRecord {
  const r = readRecord(root, id);
  if (r === null) throw new OciError('container does not exist');
  return r;
}

/**
 * Writes a file whole or not at all: a reader sees the old content or the new, never part.
 * `durable`: fsync'd before the rename (an ext4 fsync costs milliseconds: not for a record
 * the same call replaces moments later).
 */
export function writeAtomic(path: string, text: string, mode = 0o644, durable = true): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      writeSync(fd, text);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    throw new OciError(fsMessage('write', path, err), { cause: err });
  }
}

export function writeRecord(root: string, r: ContainerRecord, durable = true): void {
  writeAtomic(join(root, r.id, 'state.json'), `${JSON.stringify(r)}\n`, 0o600, durable);
}

/** Makes the root (0700: it names every container's init) if it is missing. */
export function ensureRoot(root: string): void {
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new OciError(fsMessage('create the state root', root, err), { cause: err });
  }
}

/** The per-container lock: held until release(), or until the process ends. */
export class ContainerLock {
  private constructor(private readonly server: Server) {}

  static async take(root: string, id: string): Promise<ContainerLock> {
    const name = `\0skiff-oci/${createHash('sha256').update(`${root}\0${id}`).digest('hex').slice(0, 40)}`;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      const server = createServer();
      const bound = await new Promise<boolean>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
        server.listen({ path: name, exclusive: true }, () => resolve(true));
      }).catch((err: unknown) => {
        throw new OciError(`lock container ${id}: ${(err as Error).message}`, { cause: err });
      });
      if (bound) {
        server.unref();
        return new ContainerLock(server);
      }
      // Another call on this container is in flight: calls are short, so wait for it.
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  release(): void {
    this.server.close();
  }
}
