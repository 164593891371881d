// An exec's `User` (`uid`, `name`, `uid:gid`, `name:group`) resolved against the running
// container's own /etc/passwd and /etc/group, read through /proc/<pid>/root with every symlink
// resolved inside that root (an absolute link in the container must not lead to the host's files).
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { resolveUser, UserError } from '../images/user.js';
import type { UserSpec } from '../../spec/container.js';
import { InvalidArgument } from '../lifecycle/errors.js';

const MAX_LINKS = 40;

/** `path` (absolute, inside the container) as a host path under `root`, symlinks resolved in the root; null if missing. */
function inRoot(root: string, path: string): string | null {
  const todo = path.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') { done.pop(); continue; }
    const host = `${root}/${[...done, part].join('/')}`;
    let st;
    try {
      st = lstatSync(host);
    } catch {
      return null;
    }
    if (!st.isSymbolicLink()) { done.push(part); continue; }
    if (++links > MAX_LINKS) return null;
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/').filter(Boolean));
  }
  return `${root}/${done.join('/')}`;
}

function readInRoot(root: string, path: string): string | null {
  const host = inRoot(root, path);
  if (host === null) return null;
  try {
    return readFileSync(host, 'utf8');
  } catch {
    return null;
  }
}

/** The ids for `user` in the container whose PID 1 is `pid`; InvalidArgument naming the user otherwise. */
export function containerUser(pid: number, user: string): UserSpec | null {
  const root = `/proc/${pid}/root`;
  try {
    return resolveUser(user, readInRoot(root, '/etc/passwd'), readInRoot(root, '/etc/group'));
  } catch (err) {
    if (err instanceof UserError) throw new InvalidArgument(`exec: User: ${err.message}`, 'User');
    throw err;
  }
}
