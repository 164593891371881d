// Content digests: sha256 only, written `sha256:<64 lowercase hex>`, checked before any path is
// built from one (a digest names a file under blobs/ and a directory under layers/).
import { createHash } from 'node:crypto';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && DIGEST.test(s);
}

/** The digest, checked; `what` names where it came from in the error. */
export function checkDigest(s: unknown, what: string): string {
  if (typeof s === 'string' && s.startsWith('sha256:') && !isDigest(s)) throw new Error(`${what}: ${JSON.stringify(s)} is not sha256:<64 lowercase hex digits>`);
  if (!isDigest(s)) {
    const algo = typeof s === 'string' && s.includes(':') ? ` (algorithm ${JSON.stringify(s.split(':')[0])} is not supported, only sha256)` : '';
    throw new Error(`${what}: ${JSON.stringify(s) ?? typeof s} is not a sha256 digest${algo}`);
  }
  return s;
}

export function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Chain ids (the OCI image spec): a layer's identity together with every layer below it. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]!} ${d}`));
  return out;
}
