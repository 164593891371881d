// A service's `image:` and `pull_policy:`. `host` is the host's root (read-only); an absolute
// or `./` path is an image directory; anything else is a registry reference
// (`127.0.0.1:5000/app:1`, `busybox`), which skiffd pulls as pull_policy says before it creates
// the fleet's containers, and whose config (Entrypoint, Cmd, Env, WorkingDir, User, Labels,
// StopSignal) it applies under what the service sets, as Docker does for `docker run`.
import path from 'node:path';
import { formatReference, parseReference, ReferenceError } from '../spec/image-reference.js';
import type { PullPolicy } from './types.js';
import type { YMap, YVal } from './yaml-view.js';

export type ImageChoice =
  | { kind: 'host' }
  | { kind: 'directory'; dir: string }
  | { kind: 'registry'; ref: string; pullPolicy: PullPolicy };

function readPullPolicy(v: YVal): PullPolicy {
  const s = v.string('always, missing or never');
  if (s === 'always' || s === 'missing' || s === 'never') return s;
  // Compose's older spelling of missing.
  if (s === 'if_not_present') return 'missing';
  if (s === 'build') return v.fail('build is not supported: skiff builds no images (use always, missing or never, and push the image to a registry)');
  if (s === 'daily' || s === 'weekly' || s.startsWith('every_')) return v.fail(`${s} is not supported by skiff yet (always, missing or never)`);
  return v.fail(`expected always, missing or never, got ${v.describe()}`);
}

/** `image` (required) and `pull_policy` (only with a registry image). */
export function readImage(m: YMap, at: YVal, baseDir: string): { choice: ImageChoice; from: YVal } {
  const v = m.get('image') ?? at.fail("has no image: write image: host (the host's root, read-only), an image directory or a registry image such as busybox:1.36");
  const policy = m.get('pull_policy');
  const s = v.string('host, an image directory or an image reference');
  const local = s === 'host' || s.startsWith('/') || s.startsWith('./') || s.startsWith('../');
  if (local && policy) policy.fail(`applies to a registry image; image: ${s} is not pulled`);
  if (s === 'host') return { choice: { kind: 'host' }, from: v };
  if (local) return { choice: { kind: 'directory', dir: s.startsWith('/') ? s : path.resolve(baseDir, s) }, from: v };
  let ref: string;
  try {
    ref = formatReference(parseReference(s));
  } catch (err) {
    if (err instanceof ReferenceError) return v.fail(`${err.message} (image is host, an image directory such as ./rootfs, or a registry image)`);
    throw err;
  }
  return { choice: { kind: 'registry', ref, pullPolicy: policy ? readPullPolicy(policy) : 'missing' }, from: v };
}

