// The leak checker: what a start must leave exactly as it found it in the test process —
// its mounts, its open fds, its child processes — and, for the directories given, their trees.
//   const before = snapshotHost([rootfs, rootMount]); …start fails…; await assertHostUnchanged(before);
import { readdirSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';

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
  return readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n');
}

function fds(): string[] {
  // readdir itself holds one fd while it runs; it is the same one in every snapshot.
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return `${fd} -> ${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return `${fd} (closed while listing)`; // differs from the next look, which settles it
    }
  }).sort();
}

/** Pids of this process's children (including zombies), from /proc/<pid>/stat. */
export function childPids(parent = process.pid): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse from the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent) out.push(Number(e));
  }
  return out.sort((a, b) => a - b);
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
  return { mounts: mounts(), fds: fds(), children: childPids(), trees: new Map(dirs.map((d) => [d, tree(d)])) };
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
