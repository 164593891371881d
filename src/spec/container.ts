// The container spec: its type, its defaults and its validation. Pure: no I/O.
// Every error names the field by its full path, e.g. `mounts[0].target must be absolute`.
import { normalizeCapability, type CapabilitiesSpec } from './capabilities.js';
import { absPath, bool, describe, intBetween, isObject, positiveInt, rejectUnknown, SpecError, str, type Json } from './fields.js';
import { validateFromImage, validateUser, type FromImage, type UserSpec } from './image-root.js';

export { SpecError } from './fields.js';
export { hasOverlayRoot, type FromImage, type UserSpec } from './image-root.js';
import { SeccompProfileError, validateSeccompProfile, type SeccompProfileSpec } from './seccomp-profile.js';
import { validateNetworkFields, type PortSpec } from './network.js';

export type { PortSpec } from './network.js';
import { ResourceError, validateResources, type ResourcesSpec } from './resources.js';
import { validateHealthcheck, type HealthcheckSpec } from './health.js';

export type { HealthcheckSpec } from './health.js';

export type MountSpec =
  | { type: 'bind'; source: string; target: string; readOnly: boolean }
  | { type: 'tmpfs'; target: string; size: number | null };

export type RestartPolicy =
  | { name: 'no' }
  | { name: 'always' }
  | { name: 'unless-stopped' }
  | { name: 'on-failure'; maxRetries: number | null };

export interface ConsoleSpec {
  /** ring size in bytes: the most recent output kept for attach and logs */
  buffer: number;
  /** false, true (state dir), or an absolute path */
  log: boolean | string;
  /** rotate the log at this many bytes */
  logMax: number;
}

export interface ContainerSpec {
  name: string;
  command: string[];
  hostname: string;
  env: string[];
  workdir: string;
  /** 'host' or an absolute directory used as the root as is */
  rootfs: string;
  /** an absolute image directory: the root is a copy-on-write overlay over it */
  image: string | null;
  /**
   * a stored image (src/main/images): the reference it was run by, its id, and its layer
   * directories top first, stacked as the overlay's lowerdirs under a per-container upper dir
   */
  fromImage: FromImage | null;
  /** the ids the init runs as (set between the bounding-set drop and the capabilities); null: root */
  user: UserSpec | null;
  mounts: MountSpec[];
  /** 'none' (a namespace with loopback only), 'host', or a bridge network's name (src/spec/network.ts) */
  network: string;
  /** more names for the container in its network's DNS */
  networkAliases: string[];
  /** published ports: host port → container port, through skiffd's DNAT rules and proxy */
  ports: PortSpec[];
  /** nameservers for /etc/resolv.conf; null: the network's DNS (its gateway) */
  dns: string[] | null;
  tty: boolean;
  /** stdin is a pipe clients may write to (Docker's OpenStdin); otherwise /dev/null (with a TTY: the pty, as always) */
  openStdin: boolean;
  /** the container's stdin is closed when the first attached client's input ends (Docker's StdinOnce) */
  stdinOnce: boolean;
  restart: RestartPolicy;
  stopSignal: string;
  /** seconds between the stop signal and SIGKILL */
  stopTimeout: number;
  console: ConsoleSpec;
  labels: Record<string, string>;
  /** changes to the default capability set (src/spec/capabilities.ts), names normalized to CAP_X or ALL */
  capabilities: CapabilitiesSpec;
  /** PR_SET_NO_NEW_PRIVS for the init: setuid binaries and file capabilities grant nothing (default true) */
  noNewPrivileges: boolean;
  /**
   * the syscall filter: skiff's default (src/workers/seccomp.ts), none, or a Docker-format profile
   * (src/spec/seccomp-profile.ts), stored here whole so that a restart does not need its file
   */
  seccomp: 'default' | 'unconfined' | SeccompProfileSpec;
  /** cgroup limits (src/spec/resources.ts); every field null: no limits, but still a cgroup of its own */
  resources: ResourcesSpec;
  /** the health check skiffd probes while it runs (src/spec/health.ts); null: none */
  healthcheck: HealthcheckSpec | null;
  /** skiff's own: an unhealthy container is stopped, and its restart policy decides what follows */
  restartOnUnhealthy: boolean;
}



export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const HOSTNAME_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ENV_KEY = /^[^=\0]+$/;
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_CONSOLE: ConsoleSpec = { buffer: 1 << 20, log: false, logMax: 10 << 20 };

const SIGNALS = new Set(['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE',
  'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH',
  'IO', 'PWR', 'SYS']);


/**
 * The init's working directory. Nothing under /proc: its magic links (/proc/self/fd/N,
 * /proc/1/cwd) name directories by fd, not by path, and can lead outside the container's root
 * (runc's CVE-2024-21626). The launcher also resolves it with RESOLVE_NO_MAGICLINKS.
 */
function validateWorkdir(v: Json): string {
  const dir = absPath(v, 'workdir');
  if (dir === '/proc' || dir.startsWith('/proc/')) throw new SpecError('workdir', `must not be under /proc (its links can lead outside the container), got ${describe(dir)}`);
  return dir;
}

export function validateName(v: Json, field = 'name'): string {
  const s = str(v, field);
  if (!NAME_PATTERN.test(s)) {
    throw new SpecError(field, `must match [A-Za-z0-9][A-Za-z0-9_.-]{0,62}, got ${describe(s)}`);
  }
  return s;
}

export function validateHostname(v: Json, field = 'hostname'): string {
  const s = str(v, field);
  if (s.length === 0 || s.length > 64 || !s.split('.').every((l) => HOSTNAME_LABEL.test(l))) {
    throw new SpecError(field, `must be a valid hostname (letters, digits, "-" and ".", at most 64), got ${describe(s)}`);
  }
  return s;
}

export function parseRestart(v: Json, field = 'restart'): RestartPolicy {
  const s = str(v, field);
  if (s === 'no' || s === 'always' || s === 'unless-stopped') return { name: s };
  const m = /^on-failure(?::(\d+))?$/.exec(s);
  if (m) {
    const n = m[1] === undefined ? null : Number(m[1]);
    if (n !== null && n > MAX_RETRIES) throw new SpecError(field, `on-failure allows at most ${MAX_RETRIES} retries, got ${describe(s)}`);
    return { name: 'on-failure', maxRetries: n };
  }
  throw new SpecError(field, `must be no, always, unless-stopped or on-failure[:N], got ${describe(s)}`);
}

export function formatRestart(r: RestartPolicy): string {
  return r.name === 'on-failure' && r.maxRetries !== null ? `on-failure:${r.maxRetries}` : r.name;
}

/** "TERM", "SIGTERM", "15" → "SIGTERM"; throws on anything else. */
/** on-failure:N beyond this is a typo, not a policy (Docker keeps it in an int). */
const MAX_RETRIES = 2 ** 31 - 1;

export function parseSignal(v: Json, field = 'stopSignal'): string {
  const s = typeof v === 'number' ? String(v) : str(v, field);
  const upper = s.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.has(upper)) return `SIG${upper}`;
  if (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 64) return String(Number(s)); // "064" → "64"
  throw new SpecError(field, `must be a signal name or number, got ${describe(v)}`);
}

function validateEnv(v: Json, field: string): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) {
    v.forEach((e, i) => {
      const s = str(e, `${field}[${i}]`);
      const eq = s.indexOf('=');
      if (eq <= 0) throw new SpecError(`${field}[${i}]`, `must be KEY=VALUE, got ${describe(s)}`);
      out.push(s);
    });
  } else if (isObject(v)) {
    for (const [k, val] of Object.entries(v)) {
      if (!ENV_KEY.test(k)) throw new SpecError(`${field}.${k}`, 'is not a valid variable name');
      out.push(`${k}=${str(val === null || typeof val === 'number' || typeof val === 'boolean' ? String(val ?? '') : val, `${field}.${k}`)}`);
    }
  } else {
    throw new SpecError(field, `must be a list of KEY=VALUE or a map, got ${describe(v)}`);
  }
  return out;
}

function validateMount(v: Json, field: string): MountSpec {
  if (!isObject(v)) throw new SpecError(field, `must be an object, got ${describe(v)}`);
  const type = v.type ?? 'bind';
  if (type === 'bind') {
    rejectUnknown(v, ['type', 'source', 'target', 'readOnly'], field);
    if (v.source === undefined) throw new SpecError(`${field}.source`, 'is required for a bind mount');
    if (v.target === undefined) throw new SpecError(`${field}.target`, 'is required');
    return {
      type: 'bind',
      source: absPath(v.source, `${field}.source`),
      target: absPath(v.target, `${field}.target`),
      readOnly: v.readOnly === undefined ? false : bool(v.readOnly, `${field}.readOnly`),
    };
  }
  if (type === 'tmpfs') {
    rejectUnknown(v, ['type', 'target', 'size'], field);
    if (v.target === undefined) throw new SpecError(`${field}.target`, 'is required');
    return {
      type: 'tmpfs',
      target: absPath(v.target, `${field}.target`),
      size: v.size === undefined || v.size === null ? null : positiveInt(v.size, `${field}.size`),
    };
  }
  throw new SpecError(`${field}.type`, `must be bind or tmpfs, got ${describe(type)}`);
}

/** `SRC:DST[:ro|:rw]` → a bind mount (the CLI's --mount and Compose's short volume form). */
export function parseMountShort(s: string, field: string): MountSpec {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new SpecError(field, `must be SRC:DST[:ro], got ${describe(s)}`);
  }
  const mode = parts[2];
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new SpecError(field, `mode must be ro or rw, got ${describe(mode)}`);
  return {
    type: 'bind',
    source: absPath(parts[0], `${field} source`),
    target: absPath(parts[1], `${field} target`),
    readOnly: mode === 'ro',
  };
}

/** The console forwarder's bounds (src/forwarder/hub.ts): a page at least; a ring is a chain of pipes, so 16 MiB at most. */
export const CONSOLE_MIN_BYTES = 4096;
export const CONSOLE_MAX_BUFFER = 16 << 20;


/**
 * A console log file skiffd (root) writes on the host: never under /proc, /sys or /dev,
 * where a path is a kernel knob, a device or another process's fd, not a file.
 */
function logPath(v: Json, field: string): string {
  const path = absPath(v, field);
  if (/^\/(proc|sys|dev)(\/|$)/.test(path)) throw new SpecError(field, `must be a file, not under /proc, /sys or /dev, got ${describe(path)}`);
  return path;
}

function validateConsole(v: Json, field: string): ConsoleSpec {
  if (v === undefined) return { ...DEFAULT_CONSOLE };
  if (!isObject(v)) throw new SpecError(field, `must be an object, got ${describe(v)}`);
  rejectUnknown(v, ['buffer', 'log', 'logMax'], field);
  let log: boolean | string = false;
  if (v.log !== undefined) log = typeof v.log === 'string' ? logPath(v.log, `${field}.log`) : bool(v.log, `${field}.log`);
  return {
    buffer: v.buffer === undefined ? DEFAULT_CONSOLE.buffer : intBetween(v.buffer, `${field}.buffer`, CONSOLE_MIN_BYTES, CONSOLE_MAX_BUFFER),
    log,
    logMax: v.logMax === undefined ? DEFAULT_CONSOLE.logMax : intBetween(v.logMax, `${field}.logMax`, CONSOLE_MIN_BYTES, Number.MAX_SAFE_INTEGER),
  };
}

function capabilityList(v: Json, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new SpecError(field, `must be a list of capability names, got ${describe(v)}`);
  return v.map((e, i) => {
    const name = normalizeCapability(str(e, `${field}[${i}]`));
    if (name === null) throw new SpecError(`${field}[${i}]`, `is not a known capability (e.g. CAP_NET_ADMIN, NET_ADMIN or ALL), got ${describe(e)}`);
    return name;
  });
}

function validateCapabilities(v: Json, field: string): CapabilitiesSpec {
  if (v === undefined) return { add: [], drop: [] };
  if (!isObject(v)) throw new SpecError(field, `must be an object with add and drop lists, got ${describe(v)}`);
  rejectUnknown(v, ['add', 'drop'], field);
  return { add: capabilityList(v.add, `${field}.add`), drop: capabilityList(v.drop, `${field}.drop`) };
}

/** A profile arrives already read (by the CLI or the fleet loader): validateSpec reads no files. */
function validateSeccomp(v: Json): ContainerSpec['seccomp'] {
  if (v === undefined || v === 'default') return 'default';
  if (v === 'unconfined') return 'unconfined';
  if (!isObject(v)) {
    throw new SpecError('seccomp', `must be default, unconfined or { profile, source } (a profile file is read by the CLI), got ${describe(v)}`);
  }
  rejectUnknown(v, ['profile', 'source'], 'seccomp');
  const source = str(v.source, 'seccomp.source');
  if (source === '') throw new SpecError('seccomp.source', 'must say where the profile came from');
  if (v.profile === undefined) throw new SpecError('seccomp.profile', 'is required');
  try {
    return { profile: validateSeccompProfile(v.profile, source), source };
  } catch (err) {
    // `seccomp profile <source>: <path>: <reason>`, under the field `seccomp`
    if (err instanceof SeccompProfileError) throw new SpecError('seccomp', err.message.replace(/^seccomp /, ''));
    throw err;
  }
}


const FIELDS = ['name', 'command', 'hostname', 'env', 'workdir', 'rootfs', 'image', 'fromImage', 'user', 'mounts', 'network', 'networkAliases', 'ports',
  'dns', 'tty', 'openStdin', 'stdinOnce', 'restart', 'stopSignal', 'stopTimeout', 'console', 'labels', 'capabilities', 'noNewPrivileges', 'seccomp',
  'resources', 'healthcheck', 'restartOnUnhealthy'] as const;

/**
 * Validates a spec as received (JSON) and fills in defaults. Throws SpecError
 * naming the first bad field; nothing has been created when it throws.
 */
export function validateSpec(input: Json): ContainerSpec {
  if (!isObject(input)) throw new SpecError('spec', `must be an object, got ${describe(input)}`);
  rejectUnknown(input, FIELDS, '');
  const name = validateName(input.name, 'name');

  if (!Array.isArray(input.command) || input.command.length === 0) {
    throw new SpecError('command', `must be a non-empty list of strings, got ${describe(input.command)}`);
  }
  const command = input.command.map((a, i) => str(a, `command[${i}]`));
  if (command[0] === '') throw new SpecError('command[0]', 'must not be empty');

  const hostname = input.hostname === undefined ? name.replace(/[_.]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'container'
    : validateHostname(input.hostname);

  const env = input.env === undefined ? [] : validateEnv(input.env, 'env');
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);

  const rootfs = input.rootfs === undefined || input.rootfs === 'host' ? 'host' : absPath(input.rootfs, 'rootfs');
  const image = input.image === undefined || input.image === null ? null : absPath(input.image, 'image');
  // The image path becomes an overlay mount option (lowerdir=…), where ',' separates options and ':' layers.
  if (image !== null && /[,:]/.test(image)) throw new SpecError('image', `must not contain "," or ":" (overlay options), got ${describe(image)}`);
  if (image !== null && rootfs !== 'host') throw new SpecError('image', 'cannot be combined with rootfs: choose one');
  const fromImage = input.fromImage === undefined || input.fromImage === null ? null : validateFromImage(input.fromImage);
  if (fromImage !== null && (image !== null || rootfs !== 'host')) throw new SpecError('fromImage', 'cannot be combined with image or rootfs: choose one');

  const mountsIn = input.mounts === undefined ? [] : input.mounts;
  if (!Array.isArray(mountsIn)) throw new SpecError('mounts', `must be a list, got ${describe(mountsIn)}`);
  const mounts = mountsIn.map((m, i) => validateMount(m, `mounts[${i}]`));
  const reserved = ['/proc', '/dev', '/sys'];
  mounts.forEach((m, i) => {
    if (m.target === '/') throw new SpecError(`mounts[${i}].target`, 'must not be / (use rootfs or image)');
    const r = reserved.find((p) => m.target === p || m.target.startsWith(`${p}/`));
    if (r) throw new SpecError(`mounts[${i}].target`, `must not be under ${r}, which skiff sets up itself`);
  });

  const { network, networkAliases, ports, dns } = validateNetworkFields(input);

  let labels: Record<string, string> = {};
  if (input.labels !== undefined) {
    if (!isObject(input.labels)) throw new SpecError('labels', `must be a map of strings, got ${describe(input.labels)}`);
    labels = Object.fromEntries(Object.entries(input.labels).map(([k, v]) => [k, str(v, `labels.${k}`)]));
  }

  let stopTimeout = 10;
  if (input.stopTimeout !== undefined) {
    const t = input.stopTimeout;
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 86400) {
      throw new SpecError('stopTimeout', `must be a number of seconds from 0 to 86400, got ${describe(t)}`);
    }
    stopTimeout = t;
  }

  return {
    name,
    command,
    hostname,
    env,
    workdir: input.workdir === undefined ? '/' : validateWorkdir(input.workdir),
    rootfs,
    image,
    fromImage,
    user: validateUser(input.user),
    mounts,
    network,
    networkAliases,
    ports,
    dns,
    tty: input.tty === undefined ? false : bool(input.tty, 'tty'),
    openStdin: input.openStdin === undefined ? false : bool(input.openStdin, 'openStdin'),
    stdinOnce: input.stdinOnce === undefined ? false : bool(input.stdinOnce, 'stdinOnce'),
    restart: input.restart === undefined ? { name: 'no' } : parseRestart(input.restart),
    stopSignal: input.stopSignal === undefined ? 'SIGTERM' : parseSignal(input.stopSignal),
    stopTimeout,
    console: validateConsole(input.console, 'console'),
    labels,
    capabilities: validateCapabilities(input.capabilities, 'capabilities'),
    noNewPrivileges: input.noNewPrivileges === undefined ? true : bool(input.noNewPrivileges, 'noNewPrivileges'),
    seccomp: validateSeccomp(input.seccomp),
    resources: validateResourcesField(input.resources),
    ...validateHealthFields(input),
  };
}

function validateHealthFields(input: Record<string, Json>): Pick<ContainerSpec, 'healthcheck' | 'restartOnUnhealthy'> {
  const healthcheck = validateHealthcheck(input.healthcheck);
  const restartOnUnhealthy = input.restartOnUnhealthy === undefined ? false : bool(input.restartOnUnhealthy, 'restartOnUnhealthy');
  if (restartOnUnhealthy && healthcheck === null) throw new SpecError('restartOnUnhealthy', 'needs a health check (healthcheck) to act on');
  return { healthcheck, restartOnUnhealthy };
}

function validateResourcesField(v: Json): ResourcesSpec {
  try {
    return validateResources(v, 'resources');
  } catch (err) {
    if (err instanceof ResourceError) throw new SpecError(err.field, err.message.slice(err.field.length + 1));
    throw err;
  }
}
