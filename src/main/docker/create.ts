// Docker's create body (POST /containers/create) → a skiff ContainerSpec. Pure.
// The docker CLI sends every field it knows, most of them empty: known fields that are
// empty (or at their default) are accepted and ignored; known fields set to something
// skiff does not do are refused by name; unknown fields are refused by name.
import { randomBytes } from 'node:crypto';
import { parseMountShort, SpecError, validateSpec, type ContainerSpec } from '../../spec/container.js';
import { parseSeccompProfile, SeccompProfileError } from '../../spec/seccomp-profile.js';

export class CreateError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'CreateError';
  }
}

type Obj = Record<string, unknown>;

const SUPPORTED_TOP = new Set(['Image', 'Cmd', 'Entrypoint', 'Env', 'WorkingDir', 'Hostname', 'Tty', 'Labels', 'StopSignal',
  'StopTimeout', 'HostConfig', 'Skiff', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'OpenStdin', 'StdinOnce']);
const IGNORED_TOP = new Set(['Domainname', 'User', 'Volumes', 'OnBuild', 'NetworkingConfig', 'ExposedPorts', 'Healthcheck',
  'ArgsEscaped', 'NetworkDisabled', 'MacAddress', 'Shell', 'platform']);
const SUPPORTED_HOST = new Set(['Binds', 'Tmpfs', 'Mounts', 'NetworkMode', 'RestartPolicy', 'AutoRemove', 'SecurityOpt', 'CapAdd', 'CapDrop']);
const IGNORED_HOST = new Set(['ContainerIDFile', 'LogConfig', 'PortBindings', 'VolumeDriver', 'VolumesFrom', 'ConsoleSize',
  'CgroupnsMode', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IpcMode', 'Cgroup', 'Links',
  'OomScoreAdj', 'PidMode', 'Privileged', 'PublishAllPorts', 'ReadonlyRootfs', 'UTSMode', 'UsernsMode', 'ShmSize',
  'Isolation', 'CpuShares', 'Memory', 'NanoCpus', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice', 'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod',
  'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'DeviceRequests', 'MemoryReservation',
  'MemorySwap', 'MemorySwappiness', 'OomKillDisable', 'PidsLimit', 'Ulimits', 'CpuCount', 'CpuPercent', 'IOMaximumIOps',
  'IOMaximumBandwidth', 'MaskedPaths', 'ReadonlyPaths', 'Annotations', 'KernelMemory', 'KernelMemoryTCP', 'Init', 'Runtime',
  'StorageOpt', 'Sysctls']);
/** Fields whose default is not "empty". */
const DEFAULTS: Record<string, unknown> = { MemorySwappiness: -1, NetworkMode: 'default' };
/** What the docker CLI sends unasked and skiff can safely take as "none". */
const IGNORE_ANY = new Set(['NetworkingConfig', 'LogConfig', 'ConsoleSize', 'Volumes', 'ExposedPorts', 'platform']);

/** Spec fields that came from a Docker field of another name: errors say the name the client sent. */
const DOCKER_FIELDS: ReadonlyArray<[spec: string, docker: string]> = [
  ['capabilities.add', 'HostConfig.CapAdd'], ['capabilities.drop', 'HostConfig.CapDrop'],
];

/** Is this what the docker CLI sends for "not set"? Deeper than any real field: not empty (and no deep recursion). */
function isEmpty(v: unknown, depth = 0): boolean {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return true;
  if (depth > 8) return false;
  if (Array.isArray(v)) return v.every((x) => isEmpty(x, depth + 1));
  if (typeof v === 'object') return Object.values(v as Obj).every((x) => isEmpty(x, depth + 1));
  return false;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v;
}

function checkFields(o: Obj, supported: Set<string>, ignored: Set<string>, prefix: string): void {
  for (const [k, v] of Object.entries(o)) {
    if (supported.has(k) || IGNORE_ANY.has(k)) continue;
    if (ignored.has(k)) {
      if (isEmpty(v) || DEFAULTS[k] === v) continue;
      throw new CreateError(`${prefix}${k}`, `${prefix}${k} is not supported by skiff`);
    }
    throw new CreateError(`${prefix}${k}`, `unknown field ${prefix}${k}`);
  }
}

function strList(v: unknown, field: string): string[] | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new CreateError(field, `${field} must be a list of strings`);
  return v as string[];
}

function obj(v: unknown, field: string): Obj {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new CreateError(field, `${field} must be an object`);
  return v as Obj;
}

/** "size=64m,mode=1777" → bytes (only size is used). */
function tmpfsSize(opts: string, field: string): number | undefined {
  for (const o of opts.split(',')) {
    const m = /^size=(\d+)([kmg]?)$/i.exec(o.trim());
    if (m) return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? 1);
    if (o.trim() && !/^mode=\d+$/.test(o.trim())) throw new CreateError(field, `${field}: unsupported tmpfs option ${JSON.stringify(o)}`);
  }
  return undefined;
}

/**
 * HostConfig.SecurityOpt, as the docker CLI sends --security-opt: `seccomp=unconfined`, and for
 * `seccomp=/path.json` the file's content (`seccomp=<JSON>`: the CLI reads the file, skiffd never
 * does); `no-new-privileges[=true|false]`. Docker's older `key:value` form is read too.
 */
function securityOpts(v: unknown): { seccomp?: unknown; noNewPrivileges?: boolean } {
  const out: { seccomp?: unknown; noNewPrivileges?: boolean } = {};
  (strList(v, 'HostConfig.SecurityOpt') ?? []).forEach((opt, i) => {
    const field = `HostConfig.SecurityOpt[${i}]`;
    const m = /^([a-z-]+)(?:[=:]([\s\S]*))?$/.exec(opt);
    const key = m?.[1];
    const value = m?.[2];
    if (key === 'seccomp' && value !== undefined && value !== '') {
      if (value === 'unconfined') out.seccomp = 'unconfined';
      else if (value === 'builtin') out.seccomp = 'default';
      else {
        try {
          out.seccomp = { profile: parseSeccompProfile(value, field), source: field };
        } catch (err) {
          if (err instanceof SeccompProfileError) throw new CreateError(field, err.message);
          throw err;
        }
      }
    } else if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) {
      out.noNewPrivileges = value !== 'false';
    } else {
      const shown = JSON.stringify(opt.length > 60 ? `${opt.slice(0, 60)}…` : opt);
      throw new CreateError(field, `${field} ${shown} is not supported by skiff (seccomp=unconfined|builtin|<profile JSON> and no-new-privileges are)`);
    }
  });
  return out;
}

export function generateName(): string {
  return `skiff_${randomBytes(6).toString('hex')}`;
}

export interface CreateRequest {
  spec: ContainerSpec;
  autoRemove: boolean;
}

/** Maps a create body to a validated spec; `name` is the ?name= query (Docker's optional leading / is dropped). */
export function specFromCreateBody(body: unknown, name: string | null): CreateRequest {
  const b = obj(body, 'body');
  checkFields(b, SUPPORTED_TOP, IGNORED_TOP, '');
  const host = obj(b.HostConfig, 'HostConfig');
  checkFields(host, SUPPORTED_HOST, IGNORED_HOST, 'HostConfig.');
  const skiff = obj(b.Skiff, 'Skiff');
  checkFields(skiff, new Set(['Rootfs', 'Console', 'Seccomp']), new Set(), 'Skiff.');

  const image = b.Image;
  if (typeof image !== 'string' || image === '') throw new CreateError('Image', 'Image is required: "host" or an image directory');
  const command = [...(strList(b.Entrypoint, 'Entrypoint') ?? []), ...(strList(b.Cmd, 'Cmd') ?? [])];
  if (command.length === 0) throw new CreateError('Cmd', 'No command specified');

  const mounts: unknown[] = [];
  (strList(host.Binds, 'HostConfig.Binds') ?? []).forEach((bind, i) => {
    try {
      mounts.push(parseMountShort(bind, `HostConfig.Binds[${i}]`));
    } catch (err) {
      throw new CreateError(`HostConfig.Binds[${i}]`, (err as Error).message);
    }
  });
  for (const [target, opts] of Object.entries(obj(host.Tmpfs, 'HostConfig.Tmpfs'))) {
    if (opts !== null && opts !== undefined && typeof opts !== 'string') {
      throw new CreateError(`HostConfig.Tmpfs[${target}]`, `HostConfig.Tmpfs[${target}] must be a string of mount options, got ${typeName(opts)}`);
    }
    const size = tmpfsSize(opts ?? '', `HostConfig.Tmpfs[${target}]`);
    mounts.push(size === undefined ? { type: 'tmpfs', target } : { type: 'tmpfs', target, size });
  }
  if (Array.isArray(host.Mounts)) {
    host.Mounts.forEach((m, i) => {
      const mo = obj(m, `HostConfig.Mounts[${i}]`);
      if (mo.Type === 'bind') mounts.push({ type: 'bind', source: mo.Source, target: mo.Target, readOnly: mo.ReadOnly === true });
      else if (mo.Type === 'tmpfs') mounts.push({ type: 'tmpfs', target: mo.Target });
      else throw new CreateError(`HostConfig.Mounts[${i}].Type`, `HostConfig.Mounts[${i}].Type ${JSON.stringify(mo.Type)} is not supported by skiff (bind or tmpfs)`);
    });
  }

  const nm = host.NetworkMode ?? 'default';
  if (typeof nm !== 'string' || !['default', 'none', 'host', ''].includes(nm)) {
    throw new CreateError('HostConfig.NetworkMode', `HostConfig.NetworkMode ${JSON.stringify(nm)} is not supported by skiff (none or host)`);
  }
  const rp = obj(host.RestartPolicy, 'HostConfig.RestartPolicy');
  if (rp.Name !== undefined && rp.Name !== null && typeof rp.Name !== 'string') {
    throw new CreateError('HostConfig.RestartPolicy.Name', `HostConfig.RestartPolicy.Name must be a string, got ${typeName(rp.Name)}`);
  }
  const retries = rp.MaximumRetryCount ?? 0;
  if (typeof retries !== 'number' || !Number.isSafeInteger(retries) || retries < 0) {
    throw new CreateError('HostConfig.RestartPolicy.MaximumRetryCount', `HostConfig.RestartPolicy.MaximumRetryCount must be a whole number from 0, got ${JSON.stringify(retries) ?? typeName(retries)}`);
  }
  let restart: string | undefined;
  if (rp.Name && rp.Name !== 'no') {
    restart = rp.Name === 'on-failure' && retries > 0 ? `on-failure:${retries}` : rp.Name;
  }

  const input: Obj = {
    name: name === null || name === '' ? generateName() : name.replace(/^\//, ''),
    command,
    env: strList(b.Env, 'Env') ?? [],
    mounts,
    network: nm === 'host' ? 'host' : 'none',
    tty: b.Tty === true,
  };
  if (typeof b.Hostname === 'string' && b.Hostname !== '') input.hostname = b.Hostname;
  if (typeof b.WorkingDir === 'string' && b.WorkingDir !== '') input.workdir = b.WorkingDir;
  if (b.Labels && !isEmpty(b.Labels)) input.labels = b.Labels;
  if (typeof b.StopSignal === 'string' && b.StopSignal !== '') input.stopSignal = b.StopSignal;
  if (typeof b.StopTimeout === 'number') input.stopTimeout = b.StopTimeout;
  if (restart) input.restart = restart;
  if (skiff.Console !== undefined) input.console = skiff.Console;
  const security = securityOpts(host.SecurityOpt);
  if (security.seccomp !== undefined && skiff.Seccomp !== undefined) {
    throw new CreateError('Skiff.Seccomp', 'Skiff.Seccomp and HostConfig.SecurityOpt seccomp= both set a seccomp profile; give one');
  }
  // Skiff.Seccomp is skiff's own form ({ profile, source } or default|unconfined), sent by `skiff run --seccomp`
  if (skiff.Seccomp !== undefined) input.seccomp = skiff.Seccomp;
  else if (security.seccomp !== undefined) input.seccomp = security.seccomp;
  if (security.noNewPrivileges !== undefined) input.noNewPrivileges = security.noNewPrivileges;
  // --cap-add/--cap-drop: the spec's capabilities, whose errors are renamed to the Docker fields below.
  const capAdd = strList(host.CapAdd, 'HostConfig.CapAdd');
  const capDrop = strList(host.CapDrop, 'HostConfig.CapDrop');
  if (capAdd || capDrop) input.capabilities = { add: capAdd ?? [], drop: capDrop ?? [] };
  if (image === 'host') {
    if (typeof skiff.Rootfs === 'string') input.rootfs = skiff.Rootfs;
  } else if (image.startsWith('/')) {
    input.image = image;
  } else {
    throw new CreateError('Image', `No such image: ${image} (skiff runs "host" or an absolute image directory)`);
  }
  try {
    return { spec: validateSpec(input), autoRemove: host.AutoRemove === true };
  } catch (err) {
    if (err instanceof SpecError) {
      const docker = DOCKER_FIELDS.find(([spec]) => err.field.startsWith(spec));
      if (!docker) throw new CreateError(err.field, err.message);
      const field = docker[1] + err.field.slice(docker[0].length);
      throw new CreateError(field, field + err.message.slice(err.field.length));
    }
    throw err;
  }
}
