// Container state on disk: $SKIFF_STATE_DIR/<name>/state.json, written atomically
// (temp file, fdatasync, rename). Writes of one container are coalesced: while one is in
// flight, later changes wait and only the newest is written, so a burst of state changes
// costs one or two syncs, and many containers' syncs share the filesystem's journal commits.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerRecord } from './record.js';

/** Daemon-private files live under this name, which no container name can take (names start alphanumeric). */
export const PRIVATE_DIR = '.skiffd';

export class StateStore {
  readonly root: string;
  private readonly pending = new Map<string, ContainerRecord>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.root = root;
    mkdirSync(join(root, PRIVATE_DIR), { recursive: true, mode: 0o700 });
  }

  dir(name: string): string {
    return join(this.root, name);
  }

  privatePath(...parts: string[]): string {
    return join(this.root, PRIVATE_DIR, ...parts);
  }

  /** Creates the container's directory; fails with EEXIST if the name is taken on disk. */
  createDir(name: string): void {
    mkdirSync(this.dir(name), { mode: 0o700 });
  }

  /** Schedules an atomic write of the record; resolves once this version (or a newer one) is on disk. */
  save(record: ContainerRecord): Promise<void> {
    this.pending.set(record.name, structuredClone(record));
    const running = this.inFlight.get(record.name);
    if (running) return running.then(() => this.flushOne(record.name));
    return this.flushOne(record.name);
  }

  private flushOne(name: string): Promise<void> {
    const current = this.inFlight.get(name);
    if (current) return current;
    const record = this.pending.get(name);
    if (!record) return Promise.resolve();
    this.pending.delete(name);
    const p = writeAtomic(join(this.dir(name), 'state.json'), `${JSON.stringify(record, null, 1)}\n`)
      .catch((err: NodeJS.ErrnoException) => {
        // The directory is gone: the container was removed meanwhile. Anything else is real.
        if (err.code !== 'ENOENT') throw err;
      })
      .finally(() => {
        this.inFlight.delete(name);
      });
    this.inFlight.set(name, p);
    return p.then(() => (this.pending.has(name) ? this.flushOne(name) : undefined));
  }

  /** Waits for every scheduled write. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0 || this.pending.size > 0) {
      for (const name of this.pending.keys()) void this.flushOne(name);
      await Promise.all(this.inFlight.values());
    }
  }

  /** Resolves once every write scheduled so far for this container is on disk (or has failed). */
  async settle(name: string): Promise<void> {
    while (this.inFlight.has(name) || this.pending.has(name)) {
      if (!this.inFlight.has(name)) void this.flushOne(name);
      await this.inFlight.get(name)?.catch(() => undefined);
    }
  }

  /**
   * Moves a container's directory to its new name, synchronously (no write can come between),
   * after settle(from). Throws EEXIST if the new name is taken on disk. The directory's name
   * is the truth on disk (loadAll), so a crash before the new state.json is written loses nothing.
   */
  renameDir(from: string, to: string): void {
    if (existsSync(this.dir(to))) throw Object.assign(new Error(`rename: \`${this.dir(to)}\` exists`), { code: 'EEXIST' });
    this.pending.delete(from);
    renameSync(this.dir(from), this.dir(to));
  }

  /** Removes the container's directory and everything in it (state, logs, writable layer). */
  async remove(name: string): Promise<void> {
    this.pending.delete(name);
    await this.inFlight.get(name)?.catch(() => undefined);
    await rm(this.dir(name), { recursive: true, force: true });
  }

  removeSync(name: string): void {
    this.pending.delete(name);
    rmSync(this.dir(name), { recursive: true, force: true });
  }

  /** Every record on disk, for the daemon's start-up. Unreadable ones are reported, not fatal. */
  loadAll(onError: (name: string, err: Error) => void): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === PRIVATE_DIR) continue;
      try {
        const record = JSON.parse(readFileSync(join(this.root, entry.name, 'state.json'), 'utf8')) as ContainerRecord;
        // The directory's name wins: skiffd may have died between a rename's move and its write.
        if (record.name !== entry.name) record.spec = { ...record.spec, name: entry.name };
        record.name = entry.name;
        out.push(record);
      } catch (err) {
        onError(entry.name, err as Error);
      }
    }
    return out;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
