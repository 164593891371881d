// Removed containers' directories, off the request path. A removal moves the directory into
// `<state>/.skiffd/trash/` (one rename: from then on the container is gone on disk too, since
// loading skips the private directory) and answers. Here, a few directories per turn of the
// event loop, each is emptied and kept as a spare in `<state>/.skiffd/spare/`, which the next
// create renames into place instead of making a directory.
//
// Why keep them: on a disk like this one (ext4 without a journal) every new inode costs a scan
// of the recently deleted ones, and a burst of containers would make and delete four or five
// per container. A spare keeps its `console.log` inode, truncated to nothing, and its
// `state.json` as it is, overwritten whole by the next create before the directory takes a name
// (a new container never sees a byte of an old one's log or state); everything else in it is
// deleted. Spares are bounded (MAX_SPARES); past that a directory is deleted whole.
//
// A skiffd that dies with a backlog finds it in the trash at its next start (recover) and
// finishes it: nothing is left behind. The backlog is a /metrics gauge.
import { closeSync, constants, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Directories emptied per turn of the event loop: each holds a handful of files. */
const PER_TURN = 16;
/** Spare directories kept at most: enough for a burst's removals to feed the next burst's creates. */
const MAX_SPARES = 256;
/** A file a spare keeps truncated: each container writes it again. */
const TRUNCATED = 'console.log';
/**
 * A file a spare keeps as it is: nothing loads a record from here, and the next create
 * overwrites it before the directory takes a name (StateStore.create). Truncating it would free
 * its block, which that write would only allocate again.
 */
const OVERWRITTEN = 'state.json';

export class Trash {
  private readonly queue: string[] = [];
  private readonly spares: string[] = [];
  private readonly trashDir: string;
  private readonly spareDir: string;
  private scheduled = false;
  private seq = 0;

  constructor(dir: string, private readonly onError: (path: string, err: Error) => void) {
    this.trashDir = join(dir, 'trash');
    this.spareDir = join(dir, 'spare');
    mkdirSync(this.trashDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.spareDir, { recursive: true, mode: 0o700 });
  }

  /** Directories moved here and not yet emptied. */
  get backlog(): number {
    return this.queue.length;
  }

  /**
   * Queues what an earlier skiffd left in the trash, and takes its spares as they are (emptied
   * before they were put there). Called once the state dir's lock is held.
   */
  recover(): void {
    for (const name of readdirSync(this.trashDir)) this.enqueue(join(this.trashDir, name));
    // Spares are named by their place in the stack (0, 1, …: see empty); anything else is deleted.
    const names = readdirSync(this.spareDir).sort((a, b) => Number(a) - Number(b));
    for (const name of names) {
      if (name === String(this.spares.length)) this.spares.push(join(this.spareDir, name));
      else this.remove(join(this.spareDir, name));
    }
  }

  /**
   * Moves `path` into the trash (synchronously: its name is free when this returns) and queues
   * its emptying. ENOENT: nothing to do.
   */
  discard(path: string): void {
    const target = join(this.trashDir, `${process.pid}.${++this.seq}`);
    try {
      renameSync(path, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.enqueue(target);
  }

  /**
   * Readies a spare directory with `prepare` (its state.json still holds a removed container's
   * record: the caller overwrites it) and renames it to `path` (which must not exist: the
   * caller has checked); returns true, or false when there is none.
   */
  reuse(path: string, prepare: (spare: string) => void): boolean {
    for (let spare = this.spares.pop(); spare !== undefined; spare = this.spares.pop()) {
      try {
        prepare(spare);
        renameSync(spare, path);
        return true;
      } catch (err) {
        // A spare gone behind our back: try the next. Anything else (a full disk, the target exists) is the caller's.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.spares.push(spare);
          throw err;
        }
      }
    }
    return false;
  }

  /** Empties everything queued now, synchronously, and deletes the spares (skiffd's close). */
  drain(): void {
    while (this.queue.length > 0) this.empty(this.queue.shift()!);
    for (const spare of this.spares.splice(0)) this.remove(spare);
  }


  private enqueue(path: string): void {
    this.queue.push(path);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    for (let i = 0; i < PER_TURN && this.queue.length > 0; i++) this.empty(this.queue.shift()!);
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.turn());
    }
  }

  /** Empties a discarded directory into a spare, or deletes it when there are spares enough. */
  private empty(path: string): void {
    if (this.spares.length >= MAX_SPARES) return this.remove(path);
    try {
      for (const e of readdirSync(path, { withFileTypes: true })) {
        const p = join(path, e.name);
        if (e.isFile() && e.name === OVERWRITTEN) continue;
        if (e.isFile() && e.name === TRUNCATED) emptyFile(p);
        else if (e.isDirectory()) rmSync(p, { recursive: true, force: true });
        else unlinkSync(p);
      }
      // Named by its place in the stack, so that the same number of spares always has the same
      // names (a state dir's listing compares equal after a create and a removal).
      const spare = join(this.spareDir, String(this.spares.length));
      renameSync(path, spare);
      this.spares.push(spare);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // Left where it is (no retry loop on a broken disk): the next start tries again.
      this.onError(path, err as Error);
    }
  }

  /**
   * Deletes a directory whose files sit at its top (a container's): unlinked one by one and the
   * directory removed, cheaper than a general recursive removal, which tries rmdir first and
   * walks; a subdirectory (an image's writable layer) goes recursively.
   */
  private remove(path: string): void {
    try {
      for (const e of readdirSync(path, { withFileTypes: true })) {
        const p = join(path, e.name);
        if (e.isDirectory()) rmSync(p, { recursive: true, force: true });
        else unlinkSync(p);
      }
      rmdirSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.onError(path, err as Error);
    }
  }
}

/**
 * Truncates a kept file to nothing: an empty one (a silent container's log) is only looked at,
 * so that its inode is not touched; another is opened with O_TRUNC (two system calls, where
 * truncateSync's open, ftruncate and close are three).
 */
function emptyFile(path: string): void {
  if (statSync(path).size === 0) return;
  closeSync(openSync(path, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW));
}
