// The leak checker: what a start must leave exactly as it found it in the test process —
// its mounts, its open fds, its child processes — and, for the directories given, their trees.
//   const before = snapshotHost([rootfs, rootMount]); …start fails…; await assertHostUnchanged(before);
import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { childPids, fdTargets, mountinfoLines } from '../../src/sys/proc.js';

/** Pids of a process's children (zombies included): the one reader, src/sys/proc.ts. */
export { childPids };

export interface HostSnapshot {
  /** /proc/self/mountinfo without the mount ids, one line per mount */
  mounts: string[];
  /** open fds of this process with what each refers to */
  fds: string[];
  /** pids whose parent is this process */
  children: number[];
  /** path → sorted list of every entry below it (with type) */
  trees: Map<string, string[]>;
}

function mounts(): string[] {
  return mountinfoLines('self') ?? [];
}

function fds(): string[] {
  // readdir itself holds one fd while it runs; it is the same one in every snapshot.
  return fdTargets('self').map(({ fd, target }) => `${fd} -> ${target}`);
}

function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = lstatSync(join(dir, e.name));
      out.push(`${r} ${st.mode.toString(8)} ${st.size}`);
      if (e.isDirectory()) walk(join(dir, e.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

export function snapshotHost(dirs: string[] = []): HostSnapshot {
  return { mounts: mounts(), fds: fds(), children: childPids(process.pid), trees: new Map(dirs.map((d) => [d, tree(d)])) };
}

function same(a: HostSnapshot, b: HostSnapshot): boolean {
  const eq = (x: string[] | number[] | undefined, y: string[] | number[] | undefined): boolean => JSON.stringify(x) === JSON.stringify(y);
  return eq(a.mounts, b.mounts) && eq(a.fds, b.fds) && eq(a.children, b.children)
    && [...a.trees].every(([dir, entries]) => eq(entries, b.trees.get(dir)));
}

/**
 * Fails naming what changed: a mount, an fd, a child process, or an entry of a watched directory.
 * Node's own threads open and close fds in the background (module loading, the thread pool) and a
 * killed child stays a zombie until the reaper's next turn, so a difference is looked at again a
 * few times before it counts: a real leak persists, so waiting can never hide one.
 */
export async function assertHostUnchanged(before: HostSnapshot): Promise<void> {
  let after = snapshotHost([...before.trees.keys()]);
  for (let i = 0; i < 250 && !same(before, after); i++) { // up to 5 s: a loaded machine reaps late
    await new Promise((r) => setTimeout(r, 20));
    after = snapshotHost([...before.trees.keys()]);
  }
  expect(after.mounts, 'mounts (/proc/self/mountinfo)').to.deep.equal(before.mounts);
  expect(after.fds, 'open fds (/proc/self/fd)').to.deep.equal(before.fds);
  expect(after.children, 'child processes').to.deep.equal(before.children);
  for (const [dir, entries] of before.trees) expect(after.trees.get(dir), `entries under ${dir}`).to.deep.equal(entries);
}
