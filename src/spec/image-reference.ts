// Docker's image reference grammar (distribution/reference), as a pure function:
//   busybox                      → docker.io/library/busybox:latest
//   127.0.0.1:5000/test/bb:1     → registry 127.0.0.1:5000, repository test/bb, tag 1
//   name@sha256:<64 hex>         → by digest (a tag beside it is kept for display only)
// The first path component is a registry host when it has a '.' or a ':' or is `localhost`.

export interface Reference {
  /** registry host[:port] as written (docker.io for Docker Hub) */
  registry: string;
  /** repository path inside the registry (library/busybox) */
  repository: string;
  tag: string | null;
  digest: string | null;
}

export class ReferenceError extends Error {
  constructor(ref: string, why: string) {
    super(`invalid reference format ${JSON.stringify(ref.length > 200 ? `${ref.slice(0, 200)}…` : ref)}: ${why}`);
    this.name = 'ReferenceError';
  }
}

export const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

/** Parses a reference and fills in Docker's defaults (docker.io, library/, :latest when there is no digest). */
export function parseReference(ref: string): Reference {
  if (ref === '') throw new ReferenceError(ref, 'empty');
  if (ref.length > 4096) throw new ReferenceError(ref, 'longer than 4096 characters');
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(ref, `digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex digits>`);
  }
  let tag: string | null = null;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(ref, `tag ${JSON.stringify(tag)} must be 1 to 128 of [A-Za-z0-9_.-], not starting with . or -`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw new ReferenceError(ref, `registry ${JSON.stringify(registry)} is not a host[:port]`);
  }
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      const why = p === '' ? 'empty path component' : /[A-Z]/.test(p) ? `repository name ${JSON.stringify(p)} must be lowercase` : `path component ${JSON.stringify(p)} must be lowercase letters, digits and single separators (. _ __ -)`;
      throw new ReferenceError(ref, why);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (registry.length + 1 + repository.length > 255) throw new ReferenceError(ref, 'repository name longer than 255 characters');
  if (tag === null && digest === null) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** The repository's full name: `docker.io/library/busybox`, `127.0.0.1:5000/test/bb`. */
export function repoName(r: Reference): string {
  return `${r.registry}/${r.repository}`;
}

/** The canonical string: name:tag when tagged, name@digest otherwise. */
export function formatReference(r: Reference): string {
  return r.tag !== null ? `${repoName(r)}:${r.tag}` : `${repoName(r)}@${r.digest!}`;
}

/** Docker's short display form: `busybox:latest` for Hub's library images, `user/app:1` for Hub, else in full. */
export function familiarName(full: string): string {
  if (!full.startsWith(`${DOCKER_HUB}/`)) return full;
  const rest = full.slice(DOCKER_HUB.length + 1);
  return rest.startsWith('library/') ? rest.slice('library/'.length) : rest;
}
