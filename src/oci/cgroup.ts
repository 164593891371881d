// The container's cgroup at linux.cgroupsPath (containerd and podman pass one), in every v1
// controller hierarchy and the cgroup2 one (on this kind of hybrid host, membership only), as
// runc's cgroupfs driver does: limits from linux.resources written before the init joins,
// the device rules of linux.resources.devices in the v1 devices controller. skiff-oci makes
// and removes only the directories it created; a parent someone else made is left alone.
import { mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { detectLayout, type CgroupLayout } from '../main/cgroups/layout.js';
import { LimitError, limitWrites, writeLimits, type Controller } from '../main/cgroups/limits.js';
import type { ResourcesSpec } from '../spec/resources.js';
import { OciError, fsMessage } from './errors.js';
import { pause } from './status.js';

export interface DeviceRule {
  allow: boolean;
  type: string;
  major: number | null;
  minor: number | null;
  access: string;
}

export interface CgroupPlan {
  /** the path below each hierarchy's root, absolute */
  path: string;
  resources: ResourcesSpec;
  devices: DeviceRule[];
}

export interface MadeCgroup {
  dirs: string[];
  parents: string[];
  procs: string[];
}

let layoutCache: CgroupLayout | undefined;
function layout(): CgroupLayout {
  layoutCache ??= detectLayout();
  return layoutCache;
}

/** Every hierarchy the container joins: each v1 controller hierarchy, then the cgroup2 one. */
function hierarchies(): { mount: string; controllers: string[] }[] {
  const l = layout();
  const out = l.v1.map((h) => ({ mount: h.mount, controllers: h.controllers }));
  if (l.unified !== null) out.push({ mount: l.unified, controllers: l.version === 2 ? [...l.controllers] : [] });
  return out;
}

/** Devices the runtime itself makes in /dev, allowed after the config's rules, as runc allows them. */
const RUNTIME_DEVICES: DeviceRule[] = [
  ...[[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2]].map(([major, minor]): DeviceRule => ({ allow: true, type: 'c', major: major!, minor: minor!, access: 'rwm' })),
  { allow: true, type: 'c', major: 136, minor: null, access: 'rwm' },
];

function deviceLine(d: DeviceRule): string {
  return `${d.type} ${d.major ?? '*'}:${d.minor ?? '*'} ${d.access}`;
}

function write(path: string, value: string, field: string): void {
  try {
    writeFileSync(path, value);
  } catch (err) {
    throw new OciError(`${field}: ${fsMessage(`write ${JSON.stringify(value)} to`, path, err)}`, { cause: err });
  }
}

/** A new cpuset level holds no cpus or mems until given its parent's: without them no task can join. */
function inheritCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const own = readFileSync(`${dir}/${file}`, 'utf8').trim();
    if (own === '') write(`${dir}/${file}`, readFileSync(`${dir}/../${file}`, 'utf8').trim() || '\n', 'linux.cgroupsPath');
  }
}

/**
 * Makes the cgroup and writes its limits. On failure removes what it made and throws, naming
 * the field. The caller removes the result with removeCgroup().
 */
export function makeCgroup(plan: CgroupPlan): MadeCgroup {
  const made: MadeCgroup = { dirs: [], parents: [], procs: [] };
  try {
    for (const h of hierarchies()) {
      const parts = plan.path.split('/').filter(Boolean);
      let dir = h.mount;
      for (let i = 0; i < parts.length; i++) {
        dir = `${dir}/${parts[i]}`;
        let created = false;
        try {
          mkdirSync(dir);
          created = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new OciError(`linux.cgroupsPath: ${fsMessage('mkdir', dir, err)}`, { cause: err });
        }
        if (created && h.controllers.includes('cpuset')) inheritCpuset(dir);
        if (created && i < parts.length - 1) made.parents.unshift(dir);
      }
      made.dirs.push(dir);
      made.procs.push(`${dir}/cgroup.procs`);
    }
    const dirOf = (c: Controller): string => {
      const d = made.dirs.find((_, i) => hierarchies()[i]!.controllers.includes(c));
      if (d === undefined) throw new OciError(`linux.resources: this host has no ${c} controller`);
      return d;
    };
    writeLimits(dirOf, limitWrites(layout().version, plan.resources));
    if (plan.devices.length > 0) {
      const devices = made.dirs.find((_, i) => hierarchies()[i]!.controllers.includes('devices'));
      if (devices === undefined) {
        if (layout().version === 1) throw new OciError('linux.resources.devices: this host has no devices controller');
        throw new OciError('linux.resources.devices: cgroup v2 device rules (an eBPF program) are not supported by skiff-oci');
      }
      [...plan.devices, ...RUNTIME_DEVICES].forEach((d, i) => {
        write(`${devices}/${d.allow ? 'devices.allow' : 'devices.deny'}`, deviceLine(d), `linux.resources.devices[${i}]`);
      });
    }
    return made;
  } catch (err) {
    removeCgroup(made.dirs, made.parents);
    if (err instanceof LimitError) throw new OciError(`linux.resources: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The pids in the container's cgroup (the first hierarchy that can be read). */
export function cgroupPids(dirs: readonly string[]): number[] {
  for (const d of dirs) {
    try {
      return readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      // gone from this hierarchy: try the next
    }
  }
  return [];
}

/** Sends `signal` to every process of the cgroup; a process that is gone meanwhile is no error. */
export function signalAll(dirs: readonly string[], signal: number): void {
  for (const pid of cgroupPids(dirs)) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw new OciError(`kill ${pid} with signal ${signal}: ${(err as NodeJS.ErrnoException).code}`, { cause: err });
    }
  }
}

/**
 * Removes the container's directories: a directory still holding a process (one that joined
 * from outside, or is exiting) is emptied with SIGKILL and tried again, for a bounded time.
 * Then the parents create made, if nothing else uses them.
 */
export function removeCgroup(dirs: readonly string[], parents: readonly string[]): void {
  for (const dir of dirs) {
    for (let attempt = 0, wait = 1; ; attempt++, wait = Math.min(wait * 2, 50)) {
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || attempt > 200) throw new OciError(`remove the cgroup: ${fsMessage('rmdir', dir, err)}`, { cause: err });
        signalAll([dir], 9);
        pause(wait);
      }
    }
  }
  for (const dir of parents) {
    try {
      if (statSync(dir).isDirectory() && readdirSync(dir, { withFileTypes: true }).every((e) => !e.isDirectory())) rmdirSync(dir);
    } catch {
      // in use by another container, or gone: not ours to remove
    }
  }
}
