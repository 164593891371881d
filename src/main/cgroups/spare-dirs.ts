// Spare v1 cgroup directories, kept by the directory they are in and a key (what the caller
// says they hold: limit values, or nothing), and renamed into place instead of made: a mkdir
// and an rmdir cost a v1 hierarchy several times a rename each (perf: the removal's offlining
// and RCU-deferred freeing run in kworkers and softirqs), and a spare keeps its limit files.
// v1 renames only within one parent, so a spare waits beside the containers it may become.
// Bounded: beyond `max` spares the oldest goes (rmdir), so a burst or a change of limits does
// not leave a pool of spares no one takes. cgroup2 has no rename: v1 only.
import { renameSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { cgKeep, KEEP } from './native.js';

export const SPARE_PREFIX = '.spare-';

function removeQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // gone already, or (another skiffd's) in use: left alone
  }
}

/** T: what the caller keeps with each spare (a counter read when it was kept, say). */
export class SpareDirs<T = undefined> {
  /** spare paths by `<parent dir>\0<key>`, newest last */
  private readonly byKey = new Map<string, string[]>();
  /** every spare and its bucket, oldest first (a Map keeps insertion order) */
  private readonly all = new Map<string, { bucket: string; value: T }>();
  private seq = 0;

  /**
   * `tag` tells spares of different pools apart in one hierarchy (a co-mounted one); `dropped`
   * frees what was kept with a spare that goes without being taken (removed, or a rename failed).
   */
  constructor(private readonly max: number, private readonly tag: string, private readonly dropped: (value: T) => void = () => undefined) {}

  get size(): number {
    return this.all.size;
  }

  /**
   * Renames a spare beside `dir` holding `key` (null: any key, the newest) to `dir`: the key it
   * holds and what was kept with it, or null when there is none or the rename failed (the caller makes it).
   */
  take(dir: string, key: string | null): { key: string; value: T } | null {
    const parent = dirname(dir);
    let spare: string | undefined;
    if (key !== null) spare = this.byKey.get(`${parent}\0${key}`)?.at(-1);
    else for (const s of this.all.keys()) if (dirname(s) === parent) spare = s;
    if (spare === undefined) return null;
    const { bucket, value } = this.all.get(spare)!;
    this.forget(spare);
    try {
      renameSync(spare, dir);
      return { key: bucket.slice(parent.length + 1), value };
    } catch {
      this.dropped(value);
      removeQuietly(spare); // dir exists (left by a dead skiffd), or the spare went: not used
      return null;
    }
  }

  /**
   * Keeps `dir` holding `key` as a spare (renamed away) if its cgroup.procs is empty, and for a
   * v1 memory cgroup (`memory`) once reset, all in one native call (native.ts cgKeep): false if
   * not empty, holding too much, or a call failed (the caller removes it). A full pool drops its
   * oldest spare for it.
   */
  keep(dir: string, key: string, value: T, memory: { maxUsage: number; leftover: number } | null = null): boolean {
    const spare = `${dirname(dir)}/${SPARE_PREFIX}${this.tag}${process.pid}-${this.seq++}`;
    try {
      if (cgKeep(dir, spare, memory) !== KEEP.renamed) return false;
    } catch {
      return false;
    }
    if (this.all.size >= this.max) this.drop(this.all.keys().next().value!);
    const bucket = `${dirname(dir)}\0${key}`;
    const list = this.byKey.get(bucket) ?? [];
    list.push(spare);
    this.byKey.set(bucket, list);
    this.all.set(spare, { bucket, value });
    return true;
  }

  /** Removes the spares in `parentDir` (a fleet level going), or all of them (skiffd's close). */
  drain(parentDir?: string): void {
    for (const spare of [...this.all.keys()]) if (parentDir === undefined || dirname(spare) === parentDir) this.drop(spare);
  }

  private drop(spare: string): void {
    const { value } = this.all.get(spare)!;
    this.forget(spare);
    this.dropped(value);
    removeQuietly(spare);
  }

  private forget(spare: string): void {
    const { bucket } = this.all.get(spare)!;
    this.all.delete(spare);
    const list = this.byKey.get(bucket)!;
    list.splice(list.indexOf(spare), 1);
    if (list.length === 0) this.byKey.delete(bucket);
  }
}
