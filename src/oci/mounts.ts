// config.json mounts → launch-plan operations, as runc reads mount options: flags (ro, nosuid,
// …) go to mount(2), propagation (rprivate, slave, …) to a mount of its own afterwards, the
// rest is the filesystem's data string. A bind mount takes its flags in a remount, since
// mount(2) ignores them on the bind itself. Every target is resolved beneath the rootfs.
import {
  MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, S_IFREG, type Op,
} from '../native/plan-format.js';
import { OciError } from './errors.js';
import type { OciMount } from './config.js';

/** Targets inside the rootfs: a symlink or ".." never leads out of it. */
export const IN_ROOT = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

const MS_REMOUNT = 0x20;
const MS_SYNCHRONOUS = 0x10;
const MS_MANDLOCK = 0x40;
const MS_DIRSYNC = 0x80;
const MS_NOATIME = 0x400;
const MS_NODIRATIME = 0x800;
const MS_UNBINDABLE = 1 << 17;
const MS_SLAVE = 1 << 19;
const MS_SHARED = 1 << 20;
const MS_RELATIME = 1 << 21;
const MS_STRICTATIME = 1 << 24;
const MS_LAZYTIME = 1 << 25;

/** option → [flags to set, flags to clear] */
const FLAGS: Readonly<Record<string, [number, number]>> = {
  defaults: [0, 0], rw: [0, MS_RDONLY], ro: [MS_RDONLY, 0], suid: [0, MS_NOSUID], nosuid: [MS_NOSUID, 0],
  dev: [0, MS_NODEV], nodev: [MS_NODEV, 0], exec: [0, MS_NOEXEC], noexec: [MS_NOEXEC, 0], sync: [MS_SYNCHRONOUS, 0],
  async: [0, MS_SYNCHRONOUS], dirsync: [MS_DIRSYNC, 0], remount: [MS_REMOUNT, 0], mand: [MS_MANDLOCK, 0], nomand: [0, MS_MANDLOCK],
  atime: [0, MS_NOATIME], noatime: [MS_NOATIME, 0], diratime: [0, MS_NODIRATIME], nodiratime: [MS_NODIRATIME, 0],
  relatime: [MS_RELATIME, 0], norelatime: [0, MS_RELATIME], strictatime: [MS_STRICTATIME, 0], nostrictatime: [0, MS_STRICTATIME],
  lazytime: [MS_LAZYTIME, 0], nolazytime: [0, MS_LAZYTIME], bind: [MS_BIND, 0], rbind: [MS_BIND | MS_REC, 0],
};

export const PROPAGATION: Readonly<Record<string, number>> = {
  private: MS_PRIVATE, rprivate: MS_PRIVATE | MS_REC, shared: MS_SHARED, rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE, rslave: MS_SLAVE | MS_REC, unbindable: MS_UNBINDABLE, runbindable: MS_UNBINDABLE | MS_REC,
};

/** The mount options `features` lists: every one this parser knows. */
export const MOUNT_OPTIONS = [...Object.keys(FLAGS), ...Object.keys(PROPAGATION)].sort();

export interface ParsedOptions {
  flags: number;
  propagation: number[];
  data: string[];
}

export function parseOptions(options: readonly string[], field: string): ParsedOptions {
  const out: ParsedOptions = { flags: 0, propagation: [], data: [] };
  options.forEach((o, i) => {
    if (Object.hasOwn(FLAGS, o)) {
      const [set, clear] = FLAGS[o]!;
      out.flags = (out.flags & ~clear) | set;
    } else if (Object.hasOwn(PROPAGATION, o)) {
      out.propagation.push(PROPAGATION[o]!);
    } else if (['idmap', 'ridmap', 'tmpcopyup', 'copyup', 'rro', 'rrw', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime', 'rrelatime', 'rstrictatime'].includes(o)) {
      throw new OciError(`${field}[${i}]: mount option ${JSON.stringify(o)} is not supported by skiff-oci`);
    } else {
      out.data.push(o);
    }
  });
  return out;
}

/** What a mount's source is, decided on the host before the launch (its target's kind follows it). */
export type SourceKind = 'file' | 'dir' | 'none';

/** Mount points, made as runc makes them: each missing directory, or the file a file bind needs. */
function mountPointOps(field: string, dest: string, kind: SourceKind, fileMissing: boolean): Op[] {
  const parts = dest.split('/').filter(Boolean);
  const dirs = kind === 'file' ? parts.slice(0, -1) : parts;
  const ops = dirs.map((_, i): Op => {
    const dir = `/${dirs.slice(0, i + 1).join('/')}`;
    return { what: `${field}: create the mount point \`${dir}\``, op: 'mkdir', path: dir, mode: 0o755, resolve: IN_ROOT, existOk: true, bestEffort: true };
  });
  if (kind === 'file' && fileMissing) {
    ops.push({ what: `${field}: create the file mount point \`${dest}\``, op: 'mknod', path: dest, mode: S_IFREG | 0o644, major: 0, minor: 0, resolve: IN_ROOT });
  }
  return ops;
}

export interface MountContext {
  /** the bind source's kind (files are bound on files) and whether the target file is missing in the rootfs */
  source: SourceKind;
  targetMissing: boolean;
  /** bind sources as host paths (a relative source is the bundle's) */
  hostSource: string | null;
}

/** The operations of one config mount (not cgroup mounts: see cgroupMountOps). */
export function mountOps(m: OciMount, i: number, ctx: MountContext): Op[] {
  const field = `mounts[${i}]`;
  const o = parseOptions(m.options, `${field}.options`);
  const isBind = (o.flags & MS_BIND) !== 0 || m.type === 'bind';
  const ops: Op[] = mountPointOps(field, m.destination, isBind ? ctx.source : 'dir', ctx.targetMissing);
  const data = o.data.length > 0 ? o.data.join(',') : null;
  if (isBind) {
    if (ctx.hostSource === null) throw new OciError(`${field}.source: a bind mount needs a source`);
    const rec = o.flags & MS_REC;
    ops.push({ what: `${field}: bind \`${ctx.hostSource}\` on \`${m.destination}\``, op: 'mount', source: ctx.hostSource, target: m.destination, fstype: null, flags: MS_BIND | rec, data: null, resolve: IN_ROOT });
    const rest = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (rest & MS_RDONLY) {
      ops.push({ what: `${field}: make \`${m.destination}\` read-only`, op: 'remount_ro', target: m.destination, resolve: IN_ROOT, extraFlags: rest & ~MS_RDONLY });
    } else if (rest !== 0) {
      ops.push({ what: `${field}: remount \`${m.destination}\` with its options`, op: 'mount', source: null, target: m.destination, fstype: null, flags: MS_REMOUNT | MS_BIND | rest, data: null, resolve: IN_ROOT });
    }
  } else {
    const type = m.type ?? (m.source ?? '');
    if (type === '') throw new OciError(`${field}.type: a mount that is not a bind needs a filesystem type`);
    ops.push({ what: `${field}: mount ${type} on \`${m.destination}\``, op: 'mount', source: m.source ?? type, target: m.destination, fstype: type, flags: o.flags, data, resolve: IN_ROOT });
  }
  for (const p of o.propagation) {
    ops.push({ what: `${field}: set the propagation of \`${m.destination}\``, op: 'mount', source: null, target: m.destination, fstype: null, flags: p, data: null, resolve: IN_ROOT });
  }
  return ops;
}

/**
 * A `cgroup` mount on a v1 host, as runc makes it: a tmpfs, and in it each hierarchy's own
 * directory of the container's cgroup bound at the hierarchy's name (so the container sees its
 * own cgroup as the root), then everything read-only as the options say.
 */
export function cgroupMountOps(m: OciMount, i: number, hierarchies: readonly { name: string; dir: string }[]): Op[] {
  const field = `mounts[${i}]`;
  const o = parseOptions(m.options, `${field}.options`);
  const flags = o.flags & ~(MS_RDONLY | MS_BIND | MS_REC);
  const ops: Op[] = [
    ...mountPointOps(field, m.destination, 'dir', false),
    { what: `${field}: mount a tmpfs for the cgroups on \`${m.destination}\``, op: 'mount', source: 'tmpfs', target: m.destination, fstype: 'tmpfs', flags: flags | MS_NOSUID | MS_NODEV | MS_NOEXEC, data: 'mode=755', resolve: IN_ROOT },
  ];
  for (const h of hierarchies) {
    const target = `${m.destination}/${h.name}`;
    ops.push(
      { what: `${field}: create \`${target}\``, op: 'mkdir', path: target, mode: 0o755, resolve: IN_ROOT, existOk: true },
      { what: `${field}: bind the container's cgroup \`${h.dir}\` on \`${target}\``, op: 'mount', source: h.dir, target, fstype: null, flags: MS_BIND, data: null, resolve: IN_ROOT },
    );
    if (o.flags & MS_RDONLY) ops.push({ what: `${field}: make \`${target}\` read-only`, op: 'remount_ro', target, resolve: IN_ROOT, extraFlags: flags });
    // cpu,cpuacct is also reached as cpu and cpuacct, as on the host
    if (h.name.includes(',')) {
      for (const alias of h.name.split(',')) ops.push({ what: `${field}: link \`${m.destination}/${alias}\``, op: 'symlink', target: h.name, linkpath: `${m.destination}/${alias}`, resolve: IN_ROOT });
    }
  }
  if (o.flags & MS_RDONLY) ops.push({ what: `${field}: make \`${m.destination}\` read-only`, op: 'remount_ro', target: m.destination, resolve: IN_ROOT, extraFlags: flags | MS_NOSUID | MS_NODEV | MS_NOEXEC });
  return ops;
}
