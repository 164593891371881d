// Docker's create body (POST /containers/create) → a skiff ContainerSpec. Pure.
// Which fields are read, refused or ignored is decided in fields.ts: unknown fields are
// ignored as Docker ignores them; known fields set to something skiff does not do are
// refused by name and value; a field skiff reads must have the right type.
import { randomBytes } from 'node:crypto';
import { parseMountShort, SpecError, validateSpec, type ContainerSpec } from '../../spec/container.js';
import { parseSeccompProfile, SeccompProfileError } from '../../spec/seccomp-profile.js';
import { imageCommand, imageEnv, imageLabels } from '../images/apply.js';
import type { ImageLookup } from '../images/lookup.js';
import { resolveUser, UserError } from '../images/user.js';
import { checkFields, checkLogConfig, CreateError, shown } from './fields.js';
import { networkFields } from './network.js';
import { dockerResources, RESOURCE_DOCKER_FIELDS } from './resources.js';
import { healthcheckFromDocker } from './health.js';

export { CreateError } from './fields.js';

type Obj = Record<string, unknown>;

/** Spec fields that came from a Docker field of another name: errors say the name the client sent. */
const DOCKER_FIELDS: ReadonlyArray<[spec: string, docker: string]> = [
  ['capabilities.add', 'HostConfig.CapAdd'], ['capabilities.drop', 'HostConfig.CapDrop'],
  ['ports', 'HostConfig.PortBindings'], ['dns', 'HostConfig.Dns'], ['networkAliases', 'NetworkingConfig.EndpointsConfig.Aliases'],
  ['network', 'HostConfig.NetworkMode'], ['healthcheck', 'Healthcheck'],
  ...RESOURCE_DOCKER_FIELDS.map(([spec, docker]): [string, string] => [spec, `HostConfig.${docker}`]),
];

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v;
}

/** A field skiff reads that must be a string when present (null is "not set"). */
function optString(v: unknown, field: string): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') throw new CreateError(field, `${field} must be a string, got ${shown(v)}`);
  return v;
}

function optBool(v: unknown, field: string): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v !== 'boolean') throw new CreateError(field, `${field} must be true or false, got ${shown(v)}`);
  return v;
}

function strList(v: unknown, field: string): string[] | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new CreateError(field, `${field} must be a list of strings`);
  return v;
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
  /** fields of the body skiff does not know, ignored as Docker ignores them (for a debug log line) */
  ignored: string[];
  /** the Docker field each spec mount came from (HostConfig.Binds[0], HostConfig.Tmpfs[/run], …), for errors */
  mountFields: string[];
}

/** HostConfig.Mounts: bind and tmpfs; their options skiff has no use for (BindOptions.Propagation, Consistency) are ignored. */
function dockerMounts(v: unknown): unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new CreateError('HostConfig.Mounts', `HostConfig.Mounts must be a list, got ${typeName(v)}`);
  return v.map((m, i) => {
    const field = `HostConfig.Mounts[${i}]`;
    const mo = obj(m, field);
    if (mo.Type === 'bind') return { type: 'bind', source: mo.Source, target: mo.Target, readOnly: optBool(mo.ReadOnly, `${field}.ReadOnly`) };
    if (mo.Type === 'tmpfs') {
      const size = obj(mo.TmpfsOptions, `${field}.TmpfsOptions`).SizeBytes;
      if (size === null || size === undefined || size === 0) return { type: 'tmpfs', target: mo.Target };
      return { type: 'tmpfs', target: mo.Target, size };
    }
    throw new CreateError(`${field}.Type`, `${field}.Type ${shown(mo.Type)} is not supported by skiff (bind or tmpfs)`);
  });
}

/**
 * Config.Volumes names the container paths that get a volume. A path some bind or tmpfs mount
 * covers is just that mount (docker-py lists its binds here); any other would be an anonymous
 * volume, which skiff does not have.
 */
function checkVolumes(v: unknown, mounts: unknown[]): void {
  const targets = new Set(mounts.map((m) => (m as { target?: unknown }).target));
  for (const path of Object.keys(obj(v, 'Volumes'))) {
    if (!targets.has(path) && !targets.has(path.replace(/\/+$/, ''))) {
      throw new CreateError(`Volumes[${path}]`, `Volumes[${path}] is an anonymous volume, not supported by skiff (bind a host directory: HostConfig.Binds)`);
    }
  }
}

/** Maps a create body to a validated spec; `name` is the ?name= query (Docker's optional leading / is dropped). */
/** What a create body is read against: the stored images, and the network of a body that names none. */
export interface CreateContext {
  images?: ImageLookup | null;
  /** bridge (Docker's default), or none (skiffd --docker-network none) */
  defaultNetwork?: string;
}

export function specFromCreateBody(body: unknown, name: string | null, ctx: CreateContext = {}): CreateRequest {
  const images = ctx.images ?? null;
  const defaultNetwork = ctx.defaultNetwork ?? 'bridge';
  const b = obj(body, 'body');
  const host = obj(b.HostConfig, 'HostConfig');
  const ignored = checkFields(b, host);
  checkLogConfig(host.LogConfig);
  // skiff's own extension is strict: a field it does not know there is a mistake, not another client's habit.
  const skiff = obj(b.Skiff, 'Skiff');
  for (const k of Object.keys(skiff)) {
    if (!['Rootfs', 'Console', 'Seccomp'].includes(k)) throw new CreateError(`Skiff.${k}`, `unknown field Skiff.${k} (Rootfs, Console and Seccomp are skiff's)`);
  }

  const image = b.Image;
  if (typeof image !== 'string' || image === '') throw new CreateError('Image', 'Image is required: "host", an image directory or a stored image');
  // A stored image (src/main/images): its config fills in what the body leaves out, as in Docker.
  const stored = image === 'host' || image.startsWith('/') ? null : images?.(image) ?? null;
  if (image !== 'host' && !image.startsWith('/') && stored === null) {
    throw new CreateError('Image', `No such image: ${image} (skiff runs "host", an absolute image directory, or an image pulled or loaded first: skiff pull ${image})`);
  }
  const entrypoint = strList(b.Entrypoint, 'Entrypoint');
  const cmd = strList(b.Cmd, 'Cmd');
  const command = stored ? imageCommand(stored.config, entrypoint ?? undefined, cmd ?? undefined) : [...(entrypoint ?? []), ...(cmd ?? [])];
  if (command.length === 0) throw new CreateError('Cmd', 'No command specified');

  const mounts: unknown[] = [];
  const mountFields: string[] = [];
  (strList(host.Binds, 'HostConfig.Binds') ?? []).forEach((bind, i) => {
    try {
      mounts.push(parseMountShort(bind, `HostConfig.Binds[${i}]`));
      mountFields.push(`HostConfig.Binds[${i}]`);
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
    mountFields.push(`HostConfig.Tmpfs[${target}]`);
  }
  const more = dockerMounts(host.Mounts);
  mounts.push(...more);
  mountFields.push(...more.map((_, i) => `HostConfig.Mounts[${i}]`));
  checkVolumes(b.Volumes, mounts);

  optBool(b.NetworkDisabled, 'NetworkDisabled');
  const net = networkFields(b, host, defaultNetwork);
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
    env: stored ? imageEnv(stored.config, strList(b.Env, 'Env') ?? []) : strList(b.Env, 'Env') ?? [],
    mounts,
    ...net,
    tty: optBool(b.Tty, 'Tty'),
    openStdin: optBool(b.OpenStdin, 'OpenStdin'),
    stdinOnce: optBool(b.StdinOnce, 'StdinOnce'),
  };
  const hostname = optString(b.Hostname, 'Hostname');
  if (hostname) input.hostname = hostname;
  const workdir = optString(b.WorkingDir, 'WorkingDir') || stored?.config.WorkingDir;
  if (workdir) input.workdir = workdir;
  // Labels: {} and null are "none"; anything else goes to the spec, which checks each value is a string.
  if (b.Labels !== null && b.Labels !== undefined && !(typeof b.Labels === 'object' && Object.keys(b.Labels).length === 0)) input.labels = b.Labels;
  if (stored?.config.Labels) input.labels = imageLabels(stored.config, input.labels);
  const userText = optString(b.User, 'User') || stored?.config.User || '';
  try {
    // Names need the image's /etc/passwd; another root takes numeric ids (or root).
    const user = resolveUser(userText, stored?.etc('passwd') ?? null, stored?.etc('group') ?? null);
    if (user !== null) input.user = user;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    throw new CreateError('User', stored ? err.message : `${err.message} (a user name needs a pulled or loaded image; give uid[:gid])`);
  }
  const stopSignal = optString(b.StopSignal, 'StopSignal') || stored?.config.StopSignal;
  if (stopSignal) input.stopSignal = stopSignal;
  if (b.StopTimeout !== null && b.StopTimeout !== undefined) input.stopTimeout = b.StopTimeout;
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
  // The body's check over the image's (docker run --health-*, --no-healthcheck: Test NONE).
  const healthcheck = healthcheckFromDocker(b.Healthcheck, stored?.config.Healthcheck);
  if (healthcheck !== null) input.healthcheck = healthcheck;
  const resources = dockerResources(host, 'HostConfig.');
  if (Object.keys(resources).length > 0) input.resources = resources;
  // The host's root is read-only, as ReadonlyRootfs asks; a directory or an image is writable.
  const readOnlyRoot = image === 'host' && (typeof skiff.Rootfs !== 'string' || skiff.Rootfs === 'host');
  if (optBool(host.ReadonlyRootfs, 'HostConfig.ReadonlyRootfs') && !readOnlyRoot) {
    throw new CreateError('HostConfig.ReadonlyRootfs', 'HostConfig.ReadonlyRootfs true is not supported by skiff for a rootfs directory or an image (only the host\'s root is read-only)');
  }
  if (image === 'host') {
    if (typeof skiff.Rootfs === 'string') input.rootfs = skiff.Rootfs;
  } else if (image.startsWith('/')) {
    input.image = image;
  } else if (stored) {
    input.fromImage = { ref: stored.ref, id: stored.id, layers: stored.layers };
  }
  try {
    return { spec: validateSpec(input), autoRemove: optBool(host.AutoRemove, 'HostConfig.AutoRemove'), ignored, mountFields };
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
