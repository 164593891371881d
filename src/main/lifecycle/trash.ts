// Deleting removed containers' directories off the request path. A removal moves the
// directory into `<state>/.skiffd/trash/` (one rename: from then on the container is gone on
// disk too, since loading skips the private directory) and answers; the files go here, a few
// directories per turn of the event loop, so a burst of removals never blocks skiffd for long.
// A skiffd that dies with a backlog finds it in the trash at its next start and finishes it:
// nothing is ever left behind. The backlog is a /metrics gauge.
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Directories deleted per turn of the event loop: each holds a handful of files. */
const PER_TURN = 16;

export class Trash {
  private readonly queue: string[] = [];
  private scheduled = false;
  private seq = 0;
  /** directories deleted since start-up */
  deleted = 0;

  constructor(private readonly dir: string, private readonly onError: (path: string, err: Error) => void) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Queues what an earlier skiffd moved here and did not get to delete (once it holds the state dir's lock). */
  recover(): void {
    for (const name of readdirSync(this.dir)) this.enqueue(join(this.dir, name));
  }

  /** Directories moved here and not yet deleted. */
  get backlog(): number {
    return this.queue.length;
  }

  /**
   * Moves `path` into the trash (synchronously: the caller's directory name is free when this
   * returns) and queues its deletion. ENOENT: nothing to delete.
   */
  discard(path: string, tag: string): void {
    const target = join(this.dir, `${tag}.${process.pid}.${++this.seq}`);
    try {
      renameSync(path, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.enqueue(target);
  }

  /** Deletes everything queued now, synchronously (skiffd's shutdown; the tests). */
  drain(): void {
    while (this.queue.length > 0) this.deleteOne(this.queue.shift()!);
  }

  private enqueue(path: string): void {
    this.queue.push(path);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    for (let i = 0; i < PER_TURN && this.queue.length > 0; i++) this.deleteOne(this.queue.shift()!);
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.turn());
    }
  }

  /**
   * A container's directory is flat but for an image's writable layer: its files are unlinked
   * directly (cheaper than a general recursive removal), anything else removed recursively.
   */
  private deleteOne(path: string): void {
    try {
      for (const e of readdirSync(path, { withFileTypes: true })) {
        if (e.isDirectory()) rmSync(join(path, e.name), { recursive: true, force: true });
        else unlinkSync(join(path, e.name));
      }
      rmdirSync(path);
      this.deleted++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // Kept out of the queue (no retry loop on a broken disk), and left for the next start.
      this.onError(path, err as Error);
    }
  }
}
