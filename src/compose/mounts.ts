// A service's `volumes` and `tmpfs` → the spec's mounts. Compose writes mounts three
// ways (short `SRC:DST[:ro]`, the long map, and `tmpfs: /run`); all become MountSpec.
// Paths are only shaped here; validateSpec checks them (absolute, no "..", not under /proc).
import path from 'node:path';
import type { MountSpec } from '../spec/container.js';
import { VOLUME_KEYS, VOLUME_TMPFS_KEYS } from './keys.js';
import { readSize, sizeFrom } from './values.js';
import type { YMap, YVal } from './yaml-view.js';

export interface ParsedMount {
  mount: MountSpec;
  /** the YAML value it came from, where validateSpec's complaints about it point */
  from: YVal;
}

/**
 * A host path as Compose reads it: absolute, or relative to the fleet file's directory
 * (`./data`). Anything else is a named volume, which skiff does not have.
 */
function hostPath(v: YVal, s: string, baseDir: string): string {
  if (s.startsWith('/')) return s;
  if (s === '.' || s === '..' || s.startsWith('./') || s.startsWith('../')) return path.resolve(baseDir, s);
  if (s.startsWith('~')) return v.fail(`${JSON.stringify(s)}: skiff does not expand ~; write an absolute path`);
  return v.fail(`${JSON.stringify(s)} is a named volume, not supported by skiff yet (bind a host path: /abs or ./relative)`);
}

export function parseMounts(m: YMap, baseDir: string): ParsedMount[] {
  const out: ParsedMount[] = [];
  for (const v of m.get('volumes')?.list() ?? []) out.push({ mount: volume(v, baseDir), from: v });
  const tmpfs = m.get('tmpfs');
  if (tmpfs) {
    const items = tmpfs.kind === 'list' ? tmpfs.list() : [tmpfs];
    for (const v of items) out.push({ mount: tmpfsShort(v), from: v });
  }
  return out;
}

function volume(v: YVal, baseDir: string): MountSpec {
  if (v.kind === 'map') return volumeLong(v, baseDir);
  const s = v.string('SOURCE:TARGET[:ro] or a map');
  const parts = s.split(':');
  if (parts.length === 1) return v.fail(`${JSON.stringify(s)} has no target; write SOURCE:TARGET[:ro] (anonymous volumes are not supported by skiff yet)`);
  if (parts.length > 3) return v.fail(`expected SOURCE:TARGET[:MODE], got ${JSON.stringify(s)}`);
  const [source = '', target = '', mode] = parts;
  if (!target) return v.fail(`${JSON.stringify(s)} has no target; write SOURCE:TARGET[:ro]`);
  if (!source) return v.fail(`${JSON.stringify(s)} has no source; write SOURCE:TARGET[:ro]`);
  let readOnly = false;
  for (const opt of mode === undefined ? [] : mode.split(',')) {
    if (opt === 'ro' || opt === 'rw') readOnly = opt === 'ro';
    else v.fail(`volume option ${JSON.stringify(opt)} is not supported by skiff yet (ro and rw are)`);
  }
  return { type: 'bind', source: hostPath(v, source, baseDir), target, readOnly };
}

function volumeLong(v: YVal, baseDir: string): MountSpec {
  const m = v.map().check(VOLUME_KEYS);
  const typeVal = m.get('type') ?? v.fail('has no type; write type: bind or type: tmpfs');
  const type = typeVal.string('bind or tmpfs');
  const target = m.get('target')?.string('a path') ?? v.fail('has no target: the path where the volume appears in the container');
  const readOnly = m.get('read_only')?.boolean() ?? false;
  if (type === 'bind') {
    const tmpfs = m.get('tmpfs');
    if (tmpfs) tmpfs.fail('is for type: tmpfs, not bind');
    const sourceVal = m.get('source') ?? v.fail('has no source: the host path to bind');
    return { type: 'bind', source: hostPath(sourceVal, sourceVal.string('a path'), baseDir), target, readOnly };
  }
  if (type === 'tmpfs') {
    m.get('source')?.fail('a tmpfs has no source');
    if (readOnly) m.get('read_only')?.fail('a read-only tmpfs is not supported by skiff yet');
    const sizeVal = m.get('tmpfs')?.map().check(VOLUME_TMPFS_KEYS).get('size');
    return { type: 'tmpfs', target, size: sizeVal ? readSize(sizeVal) : null };
  }
  if (type === 'volume' || type === 'npipe' || type === 'cluster' || type === 'image') {
    return typeVal.fail(`type ${type} is not supported by skiff yet (bind and tmpfs are)`);
  }
  return typeVal.fail(`expected bind or tmpfs, got ${typeVal.describe()}`);
}

/** `/run` or Docker's `/run:size=64m`; other tmpfs options are refused, not dropped. */
function tmpfsShort(v: YVal): MountSpec {
  const s = v.string('a path');
  const colon = s.indexOf(':');
  const target = colon < 0 ? s : s.slice(0, colon);
  let bytes: number | null = null;
  for (const opt of colon < 0 ? [] : s.slice(colon + 1).split(',')) {
    const [name, value] = opt.split('=', 2);
    if (name !== 'size' || value === undefined) v.fail(`tmpfs option ${JSON.stringify(opt)} is not supported by skiff yet (size=N is)`);
    bytes = sizeFrom(v, value);
  }
  return { type: 'tmpfs', target, size: bytes };
}
