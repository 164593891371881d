// Container state on disk: $SKIFF_STATE_DIR/<name>/state.json, written at once on the main
// thread whenever the record changes: a record of at most a page overwrites the old text in
// one pwrite (writeInPlace), a larger one goes through a temp file and a rename. A written
// record survives a crash of skiffd (the page cache is the kernel's), which is the failure
// skiff must survive. One write per run is also synced: the one that says `running` with
// PID 1's pid, for a crash of the machine. The sync runs in libuv's pool after the write, and
// the start's answer does not wait for it (a larger record's temp file is synced before its
// rename, and that write is waited for; later changes of that container wait for it too, so
// an older version never lands over a newer one). Why not a sync per change in the caller's
// path: on this disk (ext4 without a journal) a sync is real I/O, and each temp file a new
// inode whose allocation scans the recently deleted ones.
//
// Removal moves the directory into the trash and answers; trash.ts empties it off the request
// path and keeps it as a spare for a later create.
import { closeSync, constants, existsSync, fdatasync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec } from '../../spec/container.js';
import type { ContainerRecord } from './record.js';
import { Trash } from './trash.js';

/** Daemon-private files live under this name, which no container name can take (names start alphanumeric). */
export const PRIVATE_DIR = '.skiffd';

/**
 * Each spec's JSON, made once: the spec is most of a record's text and never changes in place
 * (a rename or an update gives the record a new spec object), while a record is written two or
 * three times a run. A stringify of the whole record per write was 1.5 % of skiffd's main thread.
 */
const specTexts = new WeakMap<ContainerSpec, string>();

/** The state's text: compact, one line (readable with jq; nobody edits it by hand), the spec first. */
function stateText(r: ContainerRecord): string {
  let spec = specTexts.get(r.spec);
  if (spec === undefined) {
    spec = JSON.stringify(r.spec);
    specTexts.set(r.spec, spec);
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the spec is left out of `rest`: its cached text goes in instead
  const { spec: _spec, ...rest } = r;
  return `{"spec":${spec},${JSON.stringify(rest).slice(1)}\n`;
}

export class StateStore {
  readonly root: string;
  /** records changed while their durable write was in flight: written once it lands */
  private readonly pending = new Map<string, { record: ContainerRecord; durable: boolean }>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** syncs of records rewritten in place, running in libuv's pool */
  private readonly syncing = new Set<Promise<void>>();
  private readonly trash: Trash;

  constructor(root: string, private readonly onError: (what: string, err: Error) => void = () => undefined) {
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
   * Creates the container's directory with its first state.json; fails with EEXIST if the name
   * is taken on disk. A removed container's emptied directory is taken when there is one
   * (trash.ts: no new inodes): its state.json, which the trash leaves as it was, is overwritten
   * in place before the directory is renamed to the name, so the name never shows the old
   * record, and the file's blocks are reused instead of freed by the trash and allocated again
   * here (on a disk mounted with `discard`, each free is also a discard request).
   */
  create(record: ContainerRecord): void {
    const dir = this.dir(record.name);
    if (lstatSync(dir, { throwIfNoEntry: false }) !== undefined) throw Object.assign(new Error(`mkdir \`${dir}\`: EEXIST`), { code: 'EEXIST' });
    const text = stateText(record);
    if (this.trash.reuse(dir, (spare) => writeRecordSync(join(spare, 'state.json'), text))) return;
    mkdirSync(dir, { mode: 0o700 });
    try {
      writeRecordSync(join(dir, 'state.json'), text);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Writes the record now (the version it has when written). `durable`: also synced, in the
   * background when the record is rewritten in place (the caller's answer need not wait for
   * the disk: what is written survives a crash of skiffd already), or before the promise
   * resolves when it goes through a temp file. While such a write is in flight, later changes
   * wait for it. A directory already gone (removed meanwhile) is not an error.
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
    const text = stateText(record);
    try {
      if (!durable) {
        writeRecordSync(path, text);
        return Promise.resolve();
      }
      const fd = writeInPlace(path, text);
      if (fd !== null) {
        this.syncInBackground(fd, path);
        return Promise.resolve();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve();
      return Promise.reject(asError(err));
    }
    const p = writeDurable(path, text)
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

  /** fdatasync in libuv's pool, then close; a failure is reported (the record is written, only not yet synced). */
  private syncInBackground(fd: number, path: string): void {
    const p = new Promise<void>((resolve) => {
      fdatasync(fd, (err) => {
        closeSync(fd);
        if (err) this.onError(`sync \`${path}\``, err);
        resolve();
      });
    });
    this.syncing.add(p);
    void p.then(() => this.syncing.delete(p));
  }

  /** Waits for every durable write and what waited for them, and every sync in the background. */
  async flush(): Promise<void> {
    await Promise.all(this.syncing);
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
 * containers makes many. Returns the file still open (to close, or to sync first), or null when
 * the file is missing or either text is larger than a page.
 */
function writeInPlace(path: string, text: string): number | null {
  const length = Buffer.byteLength(text);
  if (length > IN_PLACE_MAX) return null;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > IN_PLACE_MAX) {
      closeSync(fd);
      return null;
    }
    // Padded as text, encoded once by the write itself (no buffers built and copied here).
    const out = size > length ? text + ' '.repeat(size - length) : text;
    if (writeSync(fd, out, 0, 'utf8') !== Math.max(size, length)) throw new Error(`short write to \`${path}\``);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** A record written now, not synced: in place when it fits a page, else through a temp file and a rename. */
function writeRecordSync(path: string, text: string): void {
  const fd = writeInPlace(path, text);
  if (fd !== null) closeSync(fd);
  else writeAtomicSync(path, text);
}

function writeAtomicSync(path: string, text: string): void {
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
