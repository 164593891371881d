// A container's root from a stored image (src/main/images): the layer directories its overlay
// stacks, and the user the init runs as. Validated as any other part of the spec.
import { absPath, describe, isObject, rejectUnknown, SpecError, str, type Json } from './fields.js';
import type { ContainerSpec } from './container.js';

export interface UserSpec {
  uid: number;
  gid: number;
  /** supplementary groups, at most 6 */
  groups: number[];
}

export interface FromImage {
  ref: string;
  id: string;
  layers: string[];
}

/** Does the container's root need an overlay with a writable upper dir (an image dir or a stored image)? */
export function hasOverlayRoot(spec: Pick<ContainerSpec, 'image' | 'fromImage'>): boolean {
  return spec.image !== null || spec.fromImage !== null;
}

/** overlayfs stacks at most this many lower layers (OVL_MAX_STACK). */
const MAX_LAYERS = 500;

export function validateFromImage(v: Json): FromImage {
  if (!isObject(v)) throw new SpecError('fromImage', `must be an object, got ${describe(v)}`);
  rejectUnknown(v, ['ref', 'id', 'layers'], 'fromImage');
  const ref = str(v.ref, 'fromImage.ref');
  const id = str(v.id, 'fromImage.id');
  if (!/^sha256:[a-f0-9]{64}$/.test(id)) throw new SpecError('fromImage.id', `must be a sha256 digest, got ${describe(id)}`);
  if (!Array.isArray(v.layers) || v.layers.length === 0) throw new SpecError('fromImage.layers', `must be a non-empty list of directories, got ${describe(v.layers)}`);
  const layers = v.layers.map((l, i) => {
    const dir = absPath(l, `fromImage.layers[${i}]`);
    if (/[,:]/.test(dir)) throw new SpecError(`fromImage.layers[${i}]`, `must not contain "," or ":" (overlay options), got ${describe(dir)}`);
    return dir;
  });
  if (layers.length > MAX_LAYERS) throw new SpecError('fromImage.layers', `are ${layers.length} layers, more than the ${MAX_LAYERS} overlayfs can stack`);
  return { ref, id, layers };
}

function id(v: Json, field: string): number {
  // 4294967295 is (uid_t)-1, which setresuid reads as "leave unchanged".
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4294967294) throw new SpecError(field, `must be a whole number from 0 to 4294967294, got ${describe(v)}`);
  return v;
}

export function validateUser(v: Json): UserSpec | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new SpecError('user', `must be an object { uid, gid, groups }, got ${describe(v)}`);
  rejectUnknown(v, ['uid', 'gid', 'groups'], 'user');
  const groups = v.groups === undefined ? [] : v.groups;
  if (!Array.isArray(groups) || groups.length > 6) throw new SpecError('user.groups', `must be a list of at most 6 group ids, got ${describe(groups)}`);
  return { uid: id(v.uid, 'user.uid'), gid: id(v.gid, 'user.gid'), groups: groups.map((g, i) => id(g, `user.groups[${i}]`)) };
}
