// Mount targets and the workdir on the host's root, checked at create.
//
// A directory root (rootfs DIR, an image's overlay) is writable: a missing mount point or
// workdir is made at start, as Docker makes it (src/workers/plan.ts). The host's root is
// bound read-only, so there nothing can be made, and a missing path would fail the start
// with ENOENT — a 500 long after the client's request. Docker would have made it, so the
// client gets a 400 at create instead, naming the path and saying why.
//
// Writable places do exist inside a host-root container: skiff's private tmpfs on /tmp and
// /run, the spec's own tmpfs mounts, and read-write binds (their host directory). A path
// below one of those is made at start like in a directory root.
import { statSync } from 'node:fs';
import type { ContainerSpec } from '../../spec/container.js';
import { CreateError } from './fields.js';

/** What covers a path in the container: skiff's tmpfs on /tmp and /run, then the user's mounts in order (a later one wins). */
type Cover = { kind: 'tmpfs' } | { kind: 'bind'; source: string; readOnly: boolean; rel: string } | { kind: 'root' };

function relBelow(path: string, dir: string): string | null {
  if (dir === '/') return path.slice(1);
  if (path === dir) return '';
  return path.startsWith(`${dir}/`) ? path.slice(dir.length + 1) : null;
}

function coverOf(path: string, mounts: ContainerSpec['mounts']): Cover {
  let cover: Cover = { kind: 'root' };
  for (const dir of ['/tmp', '/run']) if (relBelow(path, dir) !== null) cover = { kind: 'tmpfs' };
  for (const m of mounts) {
    const rel = relBelow(path, m.target);
    if (rel === null) continue;
    cover = m.type === 'tmpfs' ? { kind: 'tmpfs' } : { kind: 'bind', source: m.source, readOnly: m.readOnly, rel };
  }
  return cover;
}

function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

/**
 * Throws a CreateError for a mount target (or the workdir) that does not exist on the host's
 * read-only root and cannot be made there. Other roots need no check: their paths are made at start.
 */
export function checkHostRootPaths(spec: ContainerSpec, field: (what: 'mount' | 'workdir', index: number) => string): void {
  if (spec.rootfs !== 'host' || spec.image !== null || spec.fromImage !== null) return;
  const check = (path: string, mounts: ContainerSpec['mounts'], name: string, what: string): void => {
    const cover = coverOf(path, mounts);
    if (cover.kind === 'tmpfs') return;
    if (cover.kind === 'bind') {
      if (!cover.readOnly || exists(cover.rel === '' ? cover.source : `${cover.source}/${cover.rel}`)) return;
      throw new CreateError(name, `${name} \`${path}\` does not exist in the read-only bind of \`${cover.source}\`, where it cannot be made for ${what}`);
    }
    if (exists(path)) return;
    throw new CreateError(name, `${name} \`${path}\` does not exist on the host's root, which a container sees read-only: skiff cannot make it for ${what} `
      + '(use a directory under /tmp or /run, which are the container\'s own, an existing directory, or a rootfs directory or image)');
  };
  // Each mount point is made after the mounts before it: only those can cover it.
  spec.mounts.forEach((m, i) => check(m.target, spec.mounts.slice(0, i), field('mount', i), m.type === 'bind' ? 'the bind mount' : 'the tmpfs'));
  check(spec.workdir, spec.mounts, field('workdir', 0), 'the working directory');
}
