// Container state on disk: $SKIFF_STATE_DIR/<name>/state.json, replaced atomically (temp
// file and rename, or one pwrite of at most a page over the old text: writeInPlace). One
// write per run is durable: the one that says `running` with PID 1's pid
// (fdatasync in libuv's pool before the rename), since that is what a restarted skiffd needs
// to adopt the container after a crash of the machine. Every other change (created, exited,
// renamed, updated) is written at once, synchronously, without a sync: a few system calls
// on the main thread cost less than handing them to the thread pool, and a rename that has
// returned survives a crash of skiffd (the page cache is the kernel's), which is the failure
// skiff must survive; a crash of the machine may lose them, as Docker's unsynced writes can.
// While a container's durable write is in flight its later changes wait, and only the
// newest is written after it, so an older version never lands over a newer one.
//
// Removal moves the directory into the trash and answers; trash.ts empties it off the request
// path and keeps it as a spare for a later create.
import { closeSync, constants, existsSync, fdatasync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerRecord } from './record.js';
import { Trash } from './trash.js';

/** Daemon-private files live under this name, which no container name can take (names start alphanumeric). */
export const PRIVATE_DIR = '.skiffd';

/** The state's text: compact, one line (readable with jq; nobody edits it by hand). */
function stateText(r: ContainerRecord): string {
  return `${JSON.stringify(r)}\n`;
}

export class StateStore {
  readonly root: string;
  /** records changed while their durable write was in flight: written once it lands */
  private readonly pending = new Map<string, { record: ContainerRecord; durable: boolean }>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly trash: Trash;

  constructor(root: string, onError: (what: string, err: Error) => void = () => undefined) {
    this.root = root;
    mkdirSync(join(root, PRIVATE_DIR), { recursive: true, mode: 0o700 });
    this.trash = new Trash(join(root, PRIVATE_DIR), (path, err) => onError(`delete \`${path}\``, err));
  }

  dir(name: string): string {
    return join(this.root, name);
  }

  privatePath(...parts: string[]): string {
    return join(this.root, PRIVATE_DIR, ...parts);
  }

  /** Removed containers' directories not yet deleted (a /metrics gauge). */
  removalBacklog(): number {
    return this.trash.backlog;
  }

  /**
   * Creates the container's directory, from a removed container's emptied one when there is
   * one (trash.ts: no new inodes); fails with EEXIST if the name is taken on disk.
   */
  createDir(name: string): void {
    const dir = this.dir(name);
    if (lstatSync(dir, { throwIfNoEntry: false }) !== undefined) throw Object.assign(new Error(`mkdir \`${dir}\`: EEXIST`), { code: 'EEXIST' });
    if (!this.trash.reuse(dir)) mkdirSync(dir, { mode: 0o700 });
  }

  /**
   * Writes the record (the version it has when written: a later change to the object before a
   * deferred write is included). `durable`: synced before the promise resolves; otherwise
   * written before save returns unless a durable write of this container is in flight.
   * A directory already gone (removed meanwhile) is not an error.
   */
  save(record: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    const name = record.name;
    const durable = opts.durable === true;
    if (this.inFlight.has(name)) {
      // Written (synced if any waiting save asked for it) once the durable write in flight lands.
      this.pending.set(name, { record, durable: durable || (this.pending.get(name)?.durable ?? false) });
      return this.settle(name);
    }
    this.pending.delete(name);
    const path = join(this.dir(name), 'state.json');
    if (!durable) {
      try {
        writeAtomicSync(path, stateText(record));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return Promise.reject(asError(err));
      }
      return Promise.resolve();
    }
    const p = writeDurable(path, stateText(record))
      .catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      })
      .finally(() => {
        this.inFlight.delete(name);
        const next = this.pending.get(name);
        if (next) void this.save(next.record, { durable: next.durable }).catch(() => undefined);
      });
    this.inFlight.set(name, p);
    return p;
  }

  /** Waits for every durable write and what waited for them. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight.values()].map((p) => p.catch(() => undefined)));
    }
  }

  /** Resolves once every write asked for so far for this container is done (or has failed). */
  async settle(name: string): Promise<void> {
    while (this.inFlight.has(name)) await this.inFlight.get(name)!.catch(() => undefined);
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

  /**
   * Removes the container's directory and everything in it (state, logs, writable layer): gone
   * from its name at once, deleted in the background (trash.ts). Waits for a durable write in
   * flight, so that its rename cannot recreate the state file afterwards.
   */
  async remove(name: string): Promise<void> {
    this.pending.delete(name);
    await this.inFlight.get(name)?.catch(() => undefined);
    this.pending.delete(name);
    this.trash.discard(this.dir(name));
  }

  removeSync(name: string): void {
    this.pending.delete(name);
    rmSync(this.dir(name), { recursive: true, force: true });
  }

  /** Deletes, in the background, the removed directories a previous skiffd left in the trash. */
  recoverTrash(): void {
    this.trash.recover();
  }

  /** Deletes what the trash holds now (skiffd's close). */
  drainTrash(): void {
    this.trash.drain();
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

/** What a node:fs call threw, as the Error it always is. */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A page: a write(2) of at most this much at offset 0 lands whole or not at all, even if skiffd is killed in it. */
const IN_PLACE_MAX = 4096;

/**
 * Overwrites an existing state file of at most a page with `text` in one pwrite at offset 0,
 * padded with spaces to the file's length (JSON ignores trailing white space), so that no
 * moment shows a torn or truncated record. It creates no inode: on this kind of disk (ext4
 * without a journal) a new inode costs a scan of recently deleted ones, and a burst of
 * containers makes many. False when the file is missing or either text is larger than a page.
 */
function writeInPlace(path: string, text: string): boolean {
  const bytes = Buffer.from(text);
  if (bytes.length > IN_PLACE_MAX) return false;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > IN_PLACE_MAX) return false;
    const out = size > bytes.length ? Buffer.concat([bytes, Buffer.alloc(size - bytes.length, 0x20)]) : bytes;
    if (writeSync(fd, out, 0, out.length, 0) !== out.length) throw new Error(`short write to \`${path}\``);
    return true;
  } finally {
    closeSync(fd);
  }
}

function writeAtomicSync(path: string, text: string): void {
  if (writeInPlace(path, text)) return;
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Written and synced under its own temporary name (a synchronous write may replace the state meanwhile: it waits, see save). */
function writeDurable(path: string, text: string): Promise<void> {
  const tmp = `${path}.sync`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w', 0o600);
  } catch (err) {
    return Promise.reject(asError(err));
  }
  try {
    writeSync(fd, text);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    return Promise.reject(asError(err));
  }
  return new Promise((resolve, reject) => {
    fdatasync(fd, (err) => {
      closeSync(fd);
      if (err) {
        try { unlinkSync(tmp); } catch { /* gone with its directory */ }
        return reject(err);
      }
      try {
        renameSync(tmp, path);
        resolve();
      } catch (e) {
        reject(asError(e));
      }
    });
  });
}
