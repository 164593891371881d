// Which fields of Docker's create body skiff reads, which it knows but does not do, and what
// happens to the rest. Pure.
//
// Docker itself ignores fields it does not know, and every client relies on that: dockerode
// sends `name` in the body, older clients send `VolumesFrom`, newer ones fields no skiff has
// heard of. So an unknown field is ignored (and reported, for a debug log line). A field
// skiff knows but cannot honour is another matter: accepting `Privileged: true` or
// `Memory: 1g` and doing nothing would be a lie, so a value other than the field's "not set"
// (which clients send by default: `Memory: 0`, `VolumesFrom: null`, `PortBindings: {}`) is
// refused, naming the field and the value.

type Obj = Record<string, unknown>;

export class CreateError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'CreateError';
  }
}

/** Is this what clients send for "not set"? Bounded depth: deeper than any real field is not empty. */
export function isEmpty(v: unknown, depth = 0): boolean {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return true;
  if (depth > 8) return false;
  if (Array.isArray(v)) return v.every((x) => isEmpty(x, depth + 1));
  if (typeof v === 'object') return Object.values(v as Obj).every((x) => isEmpty(x, depth + 1));
  return false;
}

/** A value for an error message: JSON, cut short. */
export function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** A field skiff knows but does not do: the values it accepts (beyond empty ones) and why others are refused. */
interface Unsupported {
  accepts?: readonly unknown[];
  why: string;
}

const LIMITS = 'skiff sets memory, CPU, cpuset and pids limits only (no block I/O, realtime, kernel memory, swappiness or ulimits)';
const PORTS = 'skiff publishes ports with HostConfig.PortBindings and names containers by its networks\' DNS';
const FILES = 'skiff writes no resolv.conf or hosts file: the container sees its root\'s own';

/** Top-level fields skiff knows and does not do. */
const TOP: Record<string, Unsupported> = {
  Domainname: { why: 'skiff sets no NIS domain name' },
  MacAddress: { why: PORTS },
};

/** HostConfig fields skiff knows and does not do. */
const HOST: Record<string, Unsupported> = {
  Privileged: { why: 'skiff runs no privileged containers (add capabilities with CapAdd)' },
  VolumesFrom: { why: 'skiff has no volumes to share between containers (bind a host directory: Binds)' },
  VolumeDriver: { accepts: ['local'], why: 'skiff has no volume drivers (bind a host directory: Binds)' },
  PublishAllPorts: { why: PORTS },
  Links: { why: PORTS },
  DnsOptions: { why: FILES },
  DnsSearch: { why: FILES },
  ExtraHosts: { why: FILES },
  GroupAdd: { why: 'the init runs as root with root\'s groups' },
  IpcMode: { accepts: ['private'], why: 'each container has an IPC namespace of its own' },
  PidMode: { accepts: ['private'], why: 'each container has a pid namespace of its own' },
  UTSMode: { accepts: ['private'], why: 'each container has a UTS namespace of its own' },
  UsernsMode: { accepts: ['host'], why: 'skiff has no user namespaces yet' },
  CgroupnsMode: { accepts: ['host'], why: 'skiff makes no cgroup namespaces' },
  Cgroup: { why: 'skiff makes no cgroup namespaces' },
  CgroupParent: { why: LIMITS },
  OomScoreAdj: { why: 'skiff leaves the OOM score as the init inherits it' },
  ShmSize: { accepts: [64 << 20], why: 'every container\'s /dev/shm is a 64 MiB tmpfs (67108864)' },
  Isolation: { accepts: ['default'], why: 'Linux containers have no isolation modes' },
  MaskedPaths: { why: 'skiff masks a fixed set of paths (Docker\'s defaults)' },
  ReadonlyPaths: { why: 'skiff makes a fixed set of paths read-only (Docker\'s defaults)' },
  Init: { why: 'the command runs as PID 1 with no init in front of it' },
  Runtime: { accepts: ['runc'], why: 'skiff is its own runtime' },
  StorageOpt: { why: 'skiff has no storage driver options' },
  Sysctls: { why: 'skiff sets no sysctls' },
  Annotations: { why: 'skiff keeps no annotations (use Labels)' },
  Devices: { why: 'every container gets the same fixed devices (null, zero, full, random, urandom, tty)' },
  DeviceCgroupRules: { why: LIMITS },
  DeviceRequests: { why: 'skiff passes no devices through' },
  MemorySwappiness: { accepts: [-1], why: LIMITS },
  ...Object.fromEntries(['KernelMemory', 'KernelMemoryTCP',
    'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpuCount', 'CpuPercent', 'BlkioWeight',
    'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps',
    'IOMaximumIOps', 'IOMaximumBandwidth', 'OomKillDisable', 'Ulimits'].map((k) => [k, { why: LIMITS }])),
};

/** Fields skiff reads (create.ts maps each), or knows to have no effect on a container (client-side or build-time). */
const READ_TOP = new Set(['Image', 'Cmd', 'Entrypoint', 'Env', 'WorkingDir', 'Hostname', 'Tty', 'OpenStdin', 'StdinOnce', 'Labels', 'StopSignal',
  'User', 'StopTimeout', 'HostConfig', 'Skiff', 'Volumes', 'NetworkDisabled', 'NetworkingConfig', 'Healthcheck']);
/** Known fields with nothing to honour: attach flags (how a client attaches, not what runs), build-time fields. */
const NO_EFFECT_TOP = new Set(['AttachStdin', 'AttachStdout', 'AttachStderr', 'OnBuild', 'Shell',
  'ArgsEscaped', 'ExposedPorts', 'platform']);
const READ_HOST = new Set(['ReadonlyRootfs', 'Binds', 'Tmpfs', 'Mounts', 'NetworkMode', 'RestartPolicy', 'AutoRemove', 'SecurityOpt', 'CapAdd',
  'CapDrop', 'LogConfig', 'PortBindings', 'Dns',
  // resources.ts
  'Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuQuota', 'CpuPeriod', 'CpuShares', 'PidsLimit', 'CpusetCpus', 'CpusetMems']);
/** ContainerIDFile is written by the client; ConsoleSize is the client's terminal, applied by its resize call. */
const NO_EFFECT_HOST = new Set(['ContainerIDFile', 'ConsoleSize']);

function refuseUnsupported(o: Obj, table: Record<string, Unsupported>, prefix: string): void {
  for (const [k, rule] of Object.entries(table)) {
    if (!Object.hasOwn(o, k)) continue;
    const v = o[k];
    if (isEmpty(v) || rule.accepts?.includes(v)) continue;
    throw new CreateError(`${prefix}${k}`, `${prefix}${k} ${shown(v)} is not supported by skiff: ${rule.why}`);
  }
}

function unknownFields(o: Obj, known: ReadonlyArray<ReadonlySet<string> | Record<string, unknown>>, prefix: string): string[] {
  const has = (k: string) => known.some((s) => (s instanceof Set ? s.has(k) : Object.hasOwn(s, k)));
  return Object.keys(o).filter((k) => !has(k)).map((k) => `${prefix}${k}`);
}

/**
 * Refuses a known field set to something skiff cannot honour; returns the unknown fields
 * (ignored, as Docker ignores them) for the caller to log.
 */
export function checkFields(body: Obj, host: Obj): string[] {
  refuseUnsupported(body, TOP, '');
  refuseUnsupported(host, HOST, 'HostConfig.');
  return [
    ...unknownFields(body, [READ_TOP, NO_EFFECT_TOP, TOP], ''),
    ...unknownFields(host, [READ_HOST, NO_EFFECT_HOST, HOST], 'HostConfig.'),
  ];
}

/** Logging drivers whose meaning skiff's log has: output kept by skiffd and read back with `logs`. */
const LOG_TYPES = ['', 'json-file', 'local'];

/** HostConfig.LogConfig: a driver skiff cannot be (syslog, none, …) is refused; its options are ignored. */
export function checkLogConfig(v: unknown): void {
  if (v === null || v === undefined) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw new CreateError('HostConfig.LogConfig', `HostConfig.LogConfig must be an object, got ${shown(v)}`);
  const type = (v as Obj).Type ?? '';
  if (typeof type !== 'string') throw new CreateError('HostConfig.LogConfig.Type', `HostConfig.LogConfig.Type must be a string, got ${shown(type)}`);
  if (!LOG_TYPES.includes(type)) {
    throw new CreateError('HostConfig.LogConfig.Type', `HostConfig.LogConfig.Type ${shown(type)} is not supported by skiff: `
      + 'skiffd keeps the recent output itself (a ring, and a console.log file with Skiff.Console.log), as json-file or local do');
  }
}
