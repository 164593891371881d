// config.json (OCI runtime spec 1.0–1.2) → a typed OciConfig, every field checked and named by
// its path. A field the spec defines that skiff-oci cannot honour is refused here, naming it,
// never ignored; a property the spec does not define is ignored, as the spec requires.
// Pure: no I/O.
import { CAPABILITY_NUMBERS, normalizeCapability } from '../spec/capabilities.js';
import { SpecError, describe, isObject, str, type Json } from '../spec/fields.js';
import { NO_RESOURCES, type ResourcesSpec } from '../spec/resources.js';
import { validateSeccompProfile, type SeccompProfile } from '../spec/seccomp-profile.js';
import { MAX_GROUPS } from '../native/plan-format.js';
import type { DeviceRule } from './cgroup.js';
import type { Hook } from './store.js';

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
export type HookKind = (typeof HOOK_KINDS)[number];

export interface OciMount { destination: string; type: string | null; source: string | null; options: string[] }
export interface IdMapping { containerID: number; hostID: number; size: number }
export interface OciDevice { path: string; type: 'c' | 'b' | 'u' | 'p'; major: number; minor: number; fileMode: number; uid: number; gid: number }

export interface OciConfig {
  ociVersion: string;
  root: { path: string; readonly: boolean };
  process: {
    terminal: boolean;
    consoleSize: { height: number; width: number } | null;
    user: { uid: number; gid: number; umask: number | null; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    /** capability numbers of each set */
    capabilities: { bounding: number[]; effective: number[]; permitted: number[]; inheritable: number[] } | null;
    rlimits: { type: string; resource: number; soft: bigint; hard: bigint }[];
    noNewPrivileges: boolean;
    oomScoreAdj: number | null;
  };
  hostname: string | null;
  mounts: OciMount[];
  hooks: Record<HookKind, Hook[]>;
  annotations: Record<string, string>;
  linux: {
    namespaces: { type: NamespaceType; path: string | null }[];
    uidMappings: IdMapping[];
    gidMappings: IdMapping[];
    devices: OciDevice[];
    cgroupsPath: string | null;
    resources: ResourcesSpec;
    deviceRules: DeviceRule[];
    sysctl: Record<string, string>;
    seccomp: SeccompProfile | null;
    rootfsPropagation: string | null;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/**
 * An error in config.json: names the field by its path. The spec's own error, so that the field
 * readers of src/spec/fields.ts serve here as they are.
 */
export const ConfigError = SpecError;

function fail(field: string, message: string): never {
  throw new ConfigError(field, message);
}

function obj(v: Json, field: string): Record<string, Json> {
  if (!isObject(v)) fail(field, `must be an object, got ${describe(v)}`);
  return v;
}

function optObj(v: Json, field: string): Record<string, Json> {
  return v === undefined || v === null ? {} : obj(v, field);
}


function optString(v: Json, field: string): string | null {
  return v === undefined || v === null ? null : str(v, field);
}

function bool(v: Json, field: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(field, `must be true or false, got ${describe(v)}`);
  return v;
}

function int(v: Json, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be a whole number from ${min} to ${max}, got ${describe(v)}`);
  return v;
}

function u32(v: Json, field: string): number {
  return int(v, field, 0, 0xffffffff);
}

function arr(v: Json, field: string): Json[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(field, `must be an array, got ${describe(v)}`);
  return v;
}

function strings(v: Json, field: string): string[] {
  return arr(v, field).map((s, i) => str(s, `${field}[${i}]`));
}

/** A field skiff-oci does not implement: refused if it says anything at all. */
function refuse(v: Json, field: string, why: string): void {
  const empty = v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
  if (!empty) fail(field, `is not supported by skiff-oci (${why})`);
}

function absolute(v: Json, field: string): string {
  const s = str(v, field);
  if (!s.startsWith('/')) fail(field, `must be an absolute path, got ${describe(s)}`);
  return s;
}

function ociVersion(v: Json): string {
  const s = str(v, 'ociVersion');
  if (!/^1\.[0-2]\.\d+(-[\w.-]+)?$/.test(s)) fail('ociVersion', `must be a version of the runtime spec from 1.0.0 to 1.2.x, got ${describe(s)}`);
  return s;
}

function capabilitySet(v: Json, field: string): number[] {
  return strings(v, field).map((name, i) => {
    const n = normalizeCapability(name);
    if (n === null || !Object.hasOwn(CAPABILITY_NUMBERS, n)) fail(`${field}[${i}]`, `is not a capability this runtime knows, got ${describe(name)}`);
    return CAPABILITY_NUMBERS[n]!;
  });
}

function rlimitValue(v: Json, field: string): bigint {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(field, `must be a whole number from 0, got ${describe(v)}`);
  // JSON numbers above 2^53 lose precision; RLIM_INFINITY (2^64-1) arrives as 18446744073709552000.
  return v >= 2 ** 64 - 2048 ? 0xffffffffffffffffn : BigInt(v);
}

export function processField(v: Json): OciConfig['process'] {
  const p = obj(v, 'process');
  refuse(p.apparmorProfile, 'process.apparmorProfile', 'this host has no AppArmor');
  refuse(p.selinuxLabel, 'process.selinuxLabel', 'this host has no SELinux');
  refuse(p.ioPriority, 'process.ioPriority', 'no I/O priority support');
  refuse(p.scheduler, 'process.scheduler', 'no scheduler policy support');
  refuse(p.execCPUAffinity, 'process.execCPUAffinity', 'no CPU affinity support');
  refuse(p.commandLine, 'process.commandLine', 'a Windows field');
  const u = obj(p.user, 'process.user');
  const gids = arr(u.additionalGids, 'process.user.additionalGids').map((g, i) => u32(g, `process.user.additionalGids[${i}]`));
  if (gids.length > MAX_GROUPS) fail('process.user.additionalGids', `has ${gids.length} groups; skiff-oci sets at most ${MAX_GROUPS}`);
  const args = strings(p.args, 'process.args');
  if (args.length === 0) fail('process.args', 'must name the program to run');
  const cwd = absolute(p.cwd, 'process.cwd');
  const caps = p.capabilities === undefined || p.capabilities === null ? null : obj(p.capabilities, 'process.capabilities');
  if (caps) refuse(caps.ambient, 'process.capabilities.ambient', 'ambient capabilities are not raised');
  const cs = p.consoleSize === undefined || p.consoleSize === null ? null : obj(p.consoleSize, 'process.consoleSize');
  return {
    terminal: bool(p.terminal, 'process.terminal', false),
    consoleSize: cs === null ? null : { height: int(cs.height, 'process.consoleSize.height', 0, 65535), width: int(cs.width, 'process.consoleSize.width', 0, 65535) },
    user: {
      uid: u32(u.uid, 'process.user.uid'),
      gid: u32(u.gid, 'process.user.gid'),
      umask: u.umask === undefined || u.umask === null ? null : int(u.umask, 'process.user.umask', 0, 0o777),
      additionalGids: gids,
    },
    args,
    env: strings(p.env, 'process.env'),
    cwd,
    capabilities: caps === null ? null : {
      bounding: capabilitySet(caps.bounding, 'process.capabilities.bounding'),
      effective: capabilitySet(caps.effective, 'process.capabilities.effective'),
      permitted: capabilitySet(caps.permitted, 'process.capabilities.permitted'),
      inheritable: capabilitySet(caps.inheritable, 'process.capabilities.inheritable'),
    },
    rlimits: arr(p.rlimits, 'process.rlimits').map((r, i) => {
      const f = `process.rlimits[${i}]`;
      const o = obj(r, f);
      const type = str(o.type, `${f}.type`);
      if (!Object.hasOwn(RLIMITS, type)) fail(`${f}.type`, `is not a resource limit, got ${describe(type)} (known: ${Object.keys(RLIMITS).join(', ')})`);
      const soft = rlimitValue(o.soft, `${f}.soft`);
      const hard = rlimitValue(o.hard, `${f}.hard`);
      if (soft > hard) fail(`${f}.soft`, `${soft} is above the hard limit ${hard}`);
      return { type, resource: RLIMITS[type]!, soft, hard };
    }),
    noNewPrivileges: bool(p.noNewPrivileges, 'process.noNewPrivileges', false),
    oomScoreAdj: p.oomScoreAdj === undefined || p.oomScoreAdj === null ? null : int(p.oomScoreAdj, 'process.oomScoreAdj', -1000, 1000),
  };
}

function mountsField(v: Json): OciMount[] {
  return arr(v, 'mounts').map((m, i) => {
    const f = `mounts[${i}]`;
    const o = obj(m, f);
    refuse(o.uidMappings, `${f}.uidMappings`, 'no id-mapped mounts');
    refuse(o.gidMappings, `${f}.gidMappings`, 'no id-mapped mounts');
    const destination = absolute(o.destination, `${f}.destination`);
    if (destination.split('/').includes('..')) fail(`${f}.destination`, `must not contain "..", got ${describe(destination)}`);
    return { destination, type: optString(o.type, `${f}.type`), source: optString(o.source, `${f}.source`), options: strings(o.options, `${f}.options`) };
  });
}

function hooksField(v: Json): Record<HookKind, Hook[]> {
  const h = optObj(v, 'hooks');
  const out = {} as Record<HookKind, Hook[]>;
  for (const kind of HOOK_KINDS) {
    out[kind] = arr(h[kind], `hooks.${kind}`).map((e, i) => {
      const f = `hooks.${kind}[${i}]`;
      const o = obj(e, f);
      const hook: Hook = { path: absolute(o.path, `${f}.path`) };
      if (o.args !== undefined && o.args !== null) hook.args = strings(o.args, `${f}.args`);
      if (o.env !== undefined && o.env !== null) hook.env = strings(o.env, `${f}.env`);
      if (o.timeout !== undefined && o.timeout !== null) hook.timeout = int(o.timeout, `${f}.timeout`, 1, 86400);
      return hook;
    });
  }
  refuse(h.createContainer, 'hooks.createContainer', 'hooks inside the container\'s namespaces before pivot_root are not run');
  refuse(h.startContainer, 'hooks.startContainer', 'hooks inside the container before the exec are not run');
  return out;
}

function mappings(v: Json, field: string): IdMapping[] {
  return arr(v, field).map((m, i) => {
    const o = obj(m, `${field}[${i}]`);
    return { containerID: u32(o.containerID, `${field}[${i}].containerID`), hostID: u32(o.hostID, `${field}[${i}].hostID`), size: int(o.size, `${field}[${i}].size`, 1, 0xffffffff) };
  });
}

function optNumber(v: Json, field: string, min: number, max: number): number | null {
  return v === undefined || v === null ? null : int(v, field, min, max);
}

export function parseResources(v: Json): { resources: ResourcesSpec; deviceRules: DeviceRule[] } {
  const r = optObj(v, 'linux.resources');
  for (const k of ['blockIO', 'hugepageLimits', 'network', 'rdma', 'unified']) refuse(r[k], `linux.resources.${k}`, 'that controller is not managed');
  const mem = optObj(r.memory, 'linux.resources.memory');
  for (const k of ['kernel', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) {
    if (mem[k] !== undefined && mem[k] !== null && mem[k] !== false) refuse(mem[k], `linux.resources.memory.${k}`, 'not managed');
  }
  const cpu = optObj(r.cpu, 'linux.resources.cpu');
  for (const k of ['realtimeRuntime', 'realtimePeriod', 'idle', 'burst']) {
    if (cpu[k] !== undefined && cpu[k] !== null && cpu[k] !== 0) refuse(cpu[k], `linux.resources.cpu.${k}`, 'not managed');
  }
  const pids = optObj(r.pids, 'linux.resources.pids');
  const big = Number.MAX_SAFE_INTEGER;
  const limit = (x: Json, f: string): number | null => {
    const n = optNumber(x, f, -1, big);
    return n === null || n === -1 ? (n === -1 ? -1 : null) : n;
  };
  const memory = limit(mem.limit, 'linux.resources.memory.limit');
  const resources: ResourcesSpec = {
    ...NO_RESOURCES,
    memory: memory === -1 ? null : memory,
    memorySwap: limit(mem.swap, 'linux.resources.memory.swap'),
    memoryReservation: ((x) => (x === -1 ? null : x))(limit(mem.reservation, 'linux.resources.memory.reservation')),
    cpuShares: ((x) => (x === 0 ? null : x))(optNumber(cpu.shares, 'linux.resources.cpu.shares', 0, 262144)),
    cpuQuota: ((x) => (x === null || x <= 0 ? null : x))(optNumber(cpu.quota, 'linux.resources.cpu.quota', -1, big)),
    cpuPeriod: ((x) => (x === 0 ? null : x))(optNumber(cpu.period, 'linux.resources.cpu.period', 0, 1_000_000)),
    cpusetCpus: ((x) => (x === '' ? null : x))(optString(cpu.cpus, 'linux.resources.cpu.cpus')),
    cpusetMems: ((x) => (x === '' ? null : x))(optString(cpu.mems, 'linux.resources.cpu.mems')),
    pidsLimit: ((x) => (x === null || x <= 0 ? null : x))(optNumber(pids.limit, 'linux.resources.pids.limit', -1, big)),
  };
  if (resources.memorySwap !== null && resources.memory === null && resources.memorySwap !== -1) fail('linux.resources.memory.swap', 'needs linux.resources.memory.limit');
  const deviceRules = arr(r.devices, 'linux.resources.devices').map((d, i): DeviceRule => {
    const f = `linux.resources.devices[${i}]`;
    const o = obj(d, f);
    const type = optString(o.type, `${f}.type`) ?? 'a';
    if (!['a', 'b', 'c'].includes(type)) fail(`${f}.type`, `must be a, b or c, got ${describe(type)}`);
    const access = optString(o.access, `${f}.access`) ?? 'rwm';
    if (!/^[rwm]{1,3}$/.test(access)) fail(`${f}.access`, `must be letters of rwm, got ${describe(access)}`);
    return {
      allow: bool(o.allow, `${f}.allow`, false),
      type,
      major: o.major === undefined || o.major === null || o.major === -1 ? null : u32(o.major, `${f}.major`),
      minor: o.minor === undefined || o.minor === null || o.minor === -1 ? null : u32(o.minor, `${f}.minor`),
      access,
    };
  });
  return { resources, deviceRules };
}

/**
 * An OCI profile is already resolved for the container's capabilities, and engines list a
 * syscall in a general rule and again in a later, narrower one (podman allows setns, then
 * refuses it with EPERM for a container without CAP_SYS_ADMIN): of a syscall's rules without
 * args, the last one wins. skiff's compiler takes one such rule per syscall.
 */
function lastRuleWins(p: SeccompProfile): SeccompProfile {
  const last = new Map<string, number>();
  p.syscalls.forEach((r, i) => {
    if (r.args.length === 0) for (const name of r.names) last.set(name, i);
  });
  const syscalls = p.syscalls
    .map((r, i) => (r.args.length > 0 ? r : { ...r, names: r.names.filter((name) => last.get(name) === i) }))
    .filter((r) => r.names.length > 0);
  return { ...p, syscalls };
}

function linuxField(v: Json): OciConfig['linux'] {
  const l = optObj(v, 'linux');
  refuse(l.mountLabel, 'linux.mountLabel', 'this host has no SELinux');
  refuse(l.intelRdt, 'linux.intelRdt', 'no Intel RDT support');
  refuse(l.personality, 'linux.personality', 'no personality support');
  refuse(l.timeOffsets, 'linux.timeOffsets', 'no time namespace support');
  refuse(l.memoryPolicy, 'linux.memoryPolicy', 'no NUMA memory policy support');
  const seen = new Set<string>();
  const namespaces = arr(l.namespaces, 'linux.namespaces').map((n, i) => {
    const f = `linux.namespaces[${i}]`;
    const o = obj(n, f);
    const type = str(o.type, `${f}.type`);
    if (type === 'time') refuse(type, `${f}.type`, 'no time namespace support');
    if (!(NAMESPACE_TYPES as readonly string[]).includes(type)) fail(`${f}.type`, `is not a namespace type, got ${describe(type)} (known: ${NAMESPACE_TYPES.join(', ')})`);
    if (seen.has(type)) fail(`${f}.type`, `names the ${type} namespace twice`);
    seen.add(type);
    const path = o.path === undefined || o.path === null || o.path === '' ? null : absolute(o.path, `${f}.path`);
    if (path !== null && type === 'user') fail(`${f}.path`, 'joining an existing user namespace is not supported by skiff-oci');
    return { type: type as NamespaceType, path };
  });
  const devices = arr(l.devices, 'linux.devices').map((d, i): OciDevice => {
    const f = `linux.devices[${i}]`;
    const o = obj(d, f);
    const type = str(o.type, `${f}.type`);
    if (type !== 'c' && type !== 'b' && type !== 'u' && type !== 'p') fail(`${f}.type`, `must be c, b, u or p, got ${describe(type)}`);
    return {
      path: absolute(o.path, `${f}.path`), type,
      major: type === 'p' ? 0 : u32(o.major, `${f}.major`), minor: type === 'p' ? 0 : u32(o.minor, `${f}.minor`),
      fileMode: o.fileMode === undefined || o.fileMode === null ? 0o666 : int(o.fileMode, `${f}.fileMode`, 0, 0o7777),
      uid: o.uid === undefined || o.uid === null ? 0 : u32(o.uid, `${f}.uid`), gid: o.gid === undefined || o.gid === null ? 0 : u32(o.gid, `${f}.gid`),
    };
  });
  const sysctl: Record<string, string> = {};
  for (const [k, val] of Object.entries(optObj(l.sysctl, 'linux.sysctl'))) {
    if (!/^[\w.-]+$/.test(k) || k.includes('..')) fail(`linux.sysctl.${k}`, 'is not a sysctl name');
    sysctl[k] = str(val, `linux.sysctl.${k}`);
  }
  let seccomp: SeccompProfile | null = null;
  if (l.seccomp !== undefined && l.seccomp !== null) {
    const s = obj(l.seccomp, 'linux.seccomp');
    refuse(s.listenerPath, 'linux.seccomp.listenerPath', 'no seccomp notification agent');
    refuse(s.listenerMetadata, 'linux.seccomp.listenerMetadata', 'no seccomp notification agent');
    const profile = Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'listenerPath' && k !== 'listenerMetadata'));
    try {
      seccomp = lastRuleWins(validateSeccompProfile(profile, 'linux.seccomp'));
    } catch (err) {
      fail('linux.seccomp', `is not a profile skiff-oci can load: ${(err as Error).message}`);
    }
  }
  const propagation = optString(l.rootfsPropagation, 'linux.rootfsPropagation');
  if (propagation !== null && !['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'].includes(propagation)) {
    fail('linux.rootfsPropagation', `must be a propagation type (private, slave, shared, unbindable, each also r-), got ${describe(propagation)}`);
  }
  const cgroupsPath = optString(l.cgroupsPath, 'linux.cgroupsPath');
  if (cgroupsPath !== null && /:/.test(cgroupsPath)) fail('linux.cgroupsPath', `is systemd's slice:prefix:name form (${describe(cgroupsPath)}); skiff-oci manages cgroupfs paths only (no --systemd-cgroup)`);
  if (cgroupsPath !== null && cgroupsPath.split('/').includes('..')) fail('linux.cgroupsPath', `must not contain "..", got ${describe(cgroupsPath)}`);
  return {
    namespaces,
    uidMappings: mappings(l.uidMappings, 'linux.uidMappings'),
    gidMappings: mappings(l.gidMappings, 'linux.gidMappings'),
    devices,
    cgroupsPath,
    ...parseResources(l.resources),
    sysctl,
    seccomp,
    rootfsPropagation: propagation,
    maskedPaths: strings(l.maskedPaths, 'linux.maskedPaths'),
    readonlyPaths: strings(l.readonlyPaths, 'linux.readonlyPaths'),
  };
}

/** Parses config.json's text. Throws ConfigError naming the field (or the JSON error). */
export function parseConfig(text: string): OciConfig {
  let v: Json;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config.json', `is not JSON: ${(err as Error).message}`);
  }
  const c = obj(v, 'config.json');
  for (const k of ['solaris', 'windows', 'vm', 'zos']) refuse(c[k], k, 'a Linux runtime');
  const root = obj(c.root, 'root');
  const annotations: Record<string, string> = {};
  for (const [k, val] of Object.entries(optObj(c.annotations, 'annotations'))) annotations[k] = str(val, `annotations.${k}`);
  const linux = linuxField(c.linux);
  const config: OciConfig = {
    ociVersion: ociVersion(c.ociVersion),
    root: { path: str(root.path, 'root.path'), readonly: bool(root.readonly, 'root.readonly', false) },
    process: processField(c.process),
    hostname: optString(c.hostname, 'hostname'),
    mounts: mountsField(c.mounts),
    hooks: hooksField(c.hooks),
    annotations,
    linux,
  };
  refuse(c.domainname, 'domainname', 'setdomainname is not done');
  if (config.hostname !== null && config.hostname !== '' && !linux.namespaces.some((n) => n.type === 'uts' && n.path === null)) {
    fail('hostname', 'needs a new uts namespace in linux.namespaces');
  }
  const userNs = linux.namespaces.some((n) => n.type === 'user');
  if (userNs && (linux.uidMappings.length === 0 || linux.gidMappings.length === 0)) fail('linux.uidMappings', 'a user namespace needs uidMappings and gidMappings');
  if (!userNs && (linux.uidMappings.length > 0 || linux.gidMappings.length > 0)) fail('linux.uidMappings', 'mappings need a user namespace in linux.namespaces');
  if (config.root.path === '') fail('root.path', 'must name the rootfs');
  return config;
}
