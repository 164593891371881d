// One service of a fleet file → a ServiceDef: all of it that is the same for every
// replica, plus where each part was written. fleet-replicas.ts turns it into specs.
import path from 'node:path';
import { parseRestart, parseSignal, validateHostname, validateName, type MountSpec } from '../spec/container.js';
import { CONSOLE_KEYS, DEPENDS_ON_KEYS, DEPLOY_KEYS, SERVICE_KEYS, X_SKIFF_KEYS } from './keys.js';
import { parseMounts } from './mounts.js';
import type { DependsOnCondition, FleetImage } from './types.js';
import { readImage } from './image.js';
import { readResources } from './resources.js';
import type { ResourcesSpec } from '../spec/resources.js';
import { parseSeccompProfile, SeccompProfileError, type SeccompProfileSpec } from '../spec/seccomp-profile.js';
import { readArgv, readDuration, readEnvironment, readLabels, readSize } from './values.js';
import { readServiceNetworking, type ServiceNetworking } from './networks.js';
import { readHealthcheck, type HealthcheckInput } from './healthcheck.js';
import type { PortSpec } from '../spec/container.js';
import type { YEntry, YMap, YVal } from './yaml-view.js';

export interface DependencyDef {
  service: string;
  condition: DependsOnCondition;
  from: YVal;
}

/** validateSpec's input, less what differs per replica (name, hostname, SKIFF_* env and labels). */
export interface SpecTemplate {
  command: string[];
  env: string[];
  hostname?: string;
  workdir?: string;
  rootfs: string;
  image: string | null;
  mounts: MountSpec[];
  /** none, host, or (set by the fleet, src/compose/networks.ts) its bridge network `<fleet>_<key>` */
  network?: string;
  networkAliases?: string[];
  ports?: PortSpec[];
  tty?: boolean;
  restart?: string;
  stopSignal?: string;
  stopTimeout?: number;
  console: { buffer?: number; logMax?: number; log?: boolean };
  labels: Record<string, string>;
  /** from security_opt: default, unconfined or a profile read from its file */
  seccomp?: 'default' | 'unconfined' | SeccompProfileSpec;
  noNewPrivileges?: boolean;
  /** from cap_add and cap_drop; names are checked by validateSpec, its errors placed at each item */
  capabilities?: { add: string[]; drop: string[] };
  /** cgroup limits (resources.ts), checked by validateSpec, its errors placed at each value */
  resources?: Partial<Record<keyof ResourcesSpec, unknown>>;
  /** from healthcheck: (healthcheck.ts); absent or null: none */
  healthcheck?: HealthcheckInput;
  /** x-skiff.restart_on_unhealthy */
  restartOnUnhealthy?: boolean;
}

export interface ServiceDef {
  name: string;
  /** a registry image (its config is merged in by skiffd); null for host or a directory */
  image: FleetImage | null;
  /** the service's key: where errors about the service as a whole point */
  at: YVal;
  replicas: number;
  /** where the replica count was written (the service key when it is the default, 1) */
  replicasAt: YVal;
  job: boolean;
  dependsOn: DependencyDef[];
  template: SpecTemplate;
  /**
   * x-skiff.console.log given as a path. Replicas cannot share one log file, so the path
   * is a directory and each replica logs to `<dir>/<replica name>.log`.
   */
  logDir: string | null;
  /** the YAML value each spec field came from (`command`, `mounts[2]`, …), to place validateSpec's errors */
  origins: Map<string, YVal>;
  /** `networks:` and `ports:`, resolved by the fleet once its networks are known */
  networking: ServiceNetworking;
}

/** Set by skiff on every replica; a service may not set them itself. */
export const RESERVED_ENV: readonly string[] = ['SKIFF_FLEET', 'SKIFF_SERVICE', 'SKIFF_REPLICA'];
export const RESERVED_LABEL_PREFIX = 'skiff.';

export function parseService(entry: YEntry, baseDir: string, readFile: ((file: string) => string) | null): ServiceDef {
  const at = entry.keyVal;
  const name = at.guard((field) => validateName(entry.key, field));
  const m = entry.value.map().check(SERVICE_KEYS);
  const origins = new Map<string, YVal>();
  const from = <T>(field: string, v: YVal, value: T): T => {
    origins.set(field, v);
    return value;
  };

  const { choice, from: imageVal } = readImage(m, at, baseDir);
  origins.set('image', imageVal);
  origins.set('rootfs', imageVal);
  const registry = choice.kind === 'registry';
  const argv = readCommand(m, at, origins, registry);

  const template: SpecTemplate = {
    // A registry image may bring the command: a stand-in lets each replica's spec be checked
    // here; skiffd replaces it with Docker's merge of the image's Entrypoint and Cmd.
    command: argv.entrypoint || argv.command ? [...(argv.entrypoint ?? []), ...(argv.command ?? [])] : [IMAGE_COMMAND],
    env: readEnv(m, origins),
    rootfs: 'host',
    image: choice.kind === 'directory' ? choice.dir : null,
    mounts: [],
    console: {},
    labels: readUserLabels(m, origins),
  };
  parseMounts(m, baseDir).forEach(({ mount, from: v }, i) => template.mounts.push(from(`mounts[${i}]`, v, mount)));

  const workdir = m.get('working_dir');
  if (workdir) template.workdir = from('workdir', workdir, workdir.string('an absolute path'));
  const hostname = m.get('hostname');
  if (hostname) template.hostname = from('hostname', hostname, hostname.guard((f) => validateHostname(hostname.string('a hostname'), f)));
  const restart = m.get('restart');
  if (restart) template.restart = from('restart', restart, readRestart(restart));
  const signal = m.get('stop_signal');
  if (signal) template.stopSignal = from('stopSignal', signal, signal.guard((f) => parseSignal(signal.text('a signal name'), f)));
  const grace = m.get('stop_grace_period');
  if (grace) template.stopTimeout = from('stopTimeout', grace, readDuration(grace));
  const network = m.get('network_mode');
  if (network) template.network = from('network', network, readNetworkMode(network));
  const tty = m.get('tty');
  if (tty) template.tty = from('tty', tty, tty.boolean());
  const securityOpt = m.get('security_opt');
  if (securityOpt) readSecurityOpt(securityOpt, baseDir, readFile, template, origins);
  const capAdd = m.get('cap_add');
  const capDrop = m.get('cap_drop');
  if (capAdd || capDrop) {
    const names = (v: YVal | undefined, field: string): string[] => (v ? v.list() : []).map((item, i) => from(`${field}[${i}]`, item, item.string('a capability name')));
    template.capabilities = { add: names(capAdd, 'capabilities.add'), drop: names(capDrop, 'capabilities.drop') };
  }

  const resources = readResources(m, m.get('deploy')?.map().check(DEPLOY_KEYS), origins);
  if (resources) template.resources = resources;

  const healthcheck = m.get('healthcheck');
  if (healthcheck) template.healthcheck = readHealthcheck(healthcheck, origins);

  const skiff = readXSkiff(m.get('x-skiff'), baseDir, origins);
  template.console = skiff.console;
  if (skiff.restartOnUnhealthy) {
    const at = skiff.restartOnUnhealthy;
    if (!template.healthcheck) at.fail('restart_on_unhealthy needs a health check: add healthcheck: to the service');
    if (!template.restart || template.restart === 'no') {
      at.fail('restart_on_unhealthy stops an unhealthy container for its restart policy to start again; set restart: always, unless-stopped or on-failure');
    }
    template.restartOnUnhealthy = true;
  }
  if (skiff.job && restart && (template.restart === 'always' || template.restart === 'unless-stopped')) {
    restart.fail(`a job (x-skiff.job: true) is expected to exit; restart: ${template.restart} would start it again forever`);
  }

  const { replicas, replicasAt } = readReplicas(m, at);
  const networking = readServiceNetworking(m);
  if (networking.network && network) networking.network.at.fail('networks and network_mode cannot be combined: choose one');
  if (networking.portsAt && replicas > 1) networking.portsAt.fail(`${replicas} replicas cannot publish the same host ports: one replica may`);
  if (networking.portsAt) origins.set('ports', networking.portsAt);
  const dependsOn = m.get('depends_on');
  const image: FleetImage | null = choice.kind !== 'registry' ? null : {
    ref: choice.ref,
    pullPolicy: choice.pullPolicy,
    entrypoint: argv.entrypoint,
    command: argv.command,
    workdir: template.workdir ?? null,
    env: template.env,
    stopSignal: template.stopSignal ?? null,
    imageHealthcheck: template.healthcheck === undefined,
  };
  return {
    name,
    image,
    at,
    replicas,
    replicasAt,
    job: skiff.job,
    dependsOn: dependsOn ? readDependsOn(dependsOn) : [],
    template,
    logDir: skiff.logDir,
    origins,
    networking,
  };
}

/** What a registry image's spec holds as its command until skiffd merges the image's in. */
export const IMAGE_COMMAND = '<the image\'s command>';

/**
 * Compose's entrypoint and command, apart: with a registry image they replace the image's
 * Entrypoint and Cmd as Docker's do. Without one, the command is entrypoint followed by command.
 */
function readCommand(m: YMap, at: YVal, origins: Map<string, YVal>, registry: boolean): { entrypoint: string[] | null; command: string[] | null } {
  const entrypoint = m.get('entrypoint');
  const command = m.get('command');
  const ep = entrypoint ? readArgv(entrypoint) : null;
  const cmd = command ? readArgv(command) : null;
  const argv = [...(ep ?? []), ...(cmd ?? [])];
  const where = entrypoint ?? command;
  if (where) origins.set('command', where);
  if (!registry && (!where || argv.length === 0)) {
    return (where ?? at).fail('has no command to run: give command (or entrypoint); only a registry image brings its own');
  }
  if (argv.length > 0 && argv[0] === '') where!.fail('the program to run is an empty string');
  return { entrypoint: ep, command: cmd };
}

function readEnv(m: YMap, origins: Map<string, YVal>): string[] {
  const v = m.get('environment');
  if (!v) return [];
  origins.set('env', v);
  const env = readEnvironment(v);
  for (const [key, { from }] of env) {
    if (RESERVED_ENV.includes(key)) from.fail(`${key} is set by skiff for each replica`);
  }
  return [...env].map(([key, { value }]) => `${key}=${value}`);
}

function readUserLabels(m: YMap, origins: Map<string, YVal>): Record<string, string> {
  const v = m.get('labels');
  if (!v) return {};
  origins.set('labels', v);
  const labels: Record<string, string> = {};
  for (const [key, { value, from }] of readLabels(v)) {
    if (key.startsWith(RESERVED_LABEL_PREFIX)) from.fail(`labels starting with "${RESERVED_LABEL_PREFIX}" are set by skiff`);
    // Defined, not assigned: `labels[key] = value` with the key `__proto__` would set the object's prototype
    // (to nothing, a string) and the label would silently vanish.
    Object.defineProperty(labels, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return labels;
}

/**
 * Compose reads YAML 1.1, where an unquoted `no` is the boolean false, so `restart: no`
 * does not mean "no" to Compose; we refuse it (plain `no`/`off`/`false` alike) and say why.
 */
function readRestart(v: YVal): string {
  const raw = v.scalar;
  if (raw === false || (v.plain && typeof raw === 'string' && /^(no|n|off)$/i.test(raw))) {
    return v.fail('an unquoted no is the YAML boolean false; quote it: restart: "no"');
  }
  const s = v.string('"no", always, on-failure[:N] or unless-stopped');
  v.guard((field) => parseRestart(s, field));
  return s;
}

function readNetworkMode(v: YVal): 'none' | 'host' {
  const s = v.string('none or host');
  if (s === 'none' || s === 'host') return s;
  if (s === 'bridge' || s.startsWith('service:') || s.startsWith('container:')) {
    return v.fail(`network_mode ${s} is not supported by skiff yet (none and host are)`);
  }
  return v.fail(`expected none or host, got ${v.describe()}`);
}

/**
 * `security_opt`, as Compose writes it: `seccomp=FILE` or `seccomp:FILE` (relative to the fleet
 * file), `seccomp=unconfined`, `no-new-privileges[:true|false]`. The profile is read now, so a
 * missing or bad one fails at its line before anything starts, and stored in the spec.
 */
function readSecurityOpt(v: YVal, baseDir: string, readFile: ((file: string) => string) | null, template: SpecTemplate,
  origins: Map<string, YVal>): void {
  for (const item of v.list()) {
    const opt = item.string('seccomp=FILE, seccomp=unconfined or no-new-privileges');
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
    const [key, value] = [m?.[1], m?.[2]];
    if (key === 'seccomp' && value) {
      if (template.seccomp !== undefined) item.fail('a second seccomp option; give one');
      origins.set('seccomp', item);
      if (value === 'unconfined' || value === 'default' || value === 'builtin') {
        template.seccomp = value === 'unconfined' ? 'unconfined' : 'default';
        continue;
      }
      const file = path.resolve(baseDir, value);
      if (readFile === null) item.fail(`seccomp profile ${file}: profile files are read only when the fleet is loaded from its file`);
      try {
        template.seccomp = { profile: parseSeccompProfile(readFile!(file), file), source: file };
      } catch (err) {
        item.fail(err instanceof SeccompProfileError ? err.message : `seccomp profile ${file}: cannot read: ${(err as Error).message}`);
      }
    } else if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) {
      origins.set('noNewPrivileges', item);
      template.noNewPrivileges = value !== 'false';
    } else {
      item.fail(`${item.describe()} is not supported by skiff (seccomp=FILE, seccomp=unconfined and no-new-privileges are)`);
    }
  }
}

/** `deploy.replicas` or `scale` (Compose accepts both; they must agree). */
function readReplicas(m: YMap, at: YVal): { replicas: number; replicasAt: YVal } {
  const positive = (v: YVal): number => {
    const n = v.scalar;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 1) return n;
    return v.fail(`expected a positive integer, got ${v.describe()}`);
  };
  const deployed = m.get('deploy')?.map().check(DEPLOY_KEYS).get('replicas');
  const scale = m.get('scale');
  const a = deployed ? positive(deployed) : null;
  const b = scale ? positive(scale) : null;
  if (scale && a !== null && b !== null && a !== b) scale.fail(`is ${b} but deploy.replicas is ${a}; set one of them`);
  if (deployed && a !== null) return { replicas: a, replicasAt: deployed };
  if (scale && b !== null) return { replicas: b, replicasAt: scale };
  return { replicas: 1, replicasAt: at };
}

function readDependsOn(v: YVal): DependencyDef[] {
  const deps: DependencyDef[] = [];
  const add = (service: string, condition: DependsOnCondition, from: YVal): void => {
    if (deps.some((d) => d.service === service)) from.fail(`${service} is listed twice`);
    deps.push({ service, condition, from });
  };
  if (v.kind === 'list') {
    for (const item of v.list()) add(item.string('a service name'), 'service_started', item);
    return deps;
  }
  for (const { key, keyVal, value } of v.map().entries) {
    let condition: DependsOnCondition = 'service_started';
    if (!value.isNull) {
      const d = value.map().check(DEPENDS_ON_KEYS);
      const c = d.get('condition');
      if (c) condition = readCondition(c);
      // Compose's defaults are accepted; their opposites would change behaviour, so they are refused.
      const required = d.get('required');
      if (required && !required.boolean()) required.fail('optional dependencies (required: false) are not supported by skiff yet');
      const restart = d.get('restart');
      if (restart && restart.boolean()) restart.fail('restarting dependents (restart: true) is not supported by skiff yet');
    }
    add(key, condition, keyVal);
  }
  return deps;
}

function readCondition(v: YVal): DependsOnCondition {
  const s = v.string('service_started, service_healthy or service_completed_successfully');
  if (s === 'service_started' || s === 'service_healthy' || s === 'service_completed_successfully') return s;
  return v.fail(`expected service_started, service_healthy or service_completed_successfully, got ${v.describe()}`);
}

interface XSkiff {
  job: boolean;
  /** where `restart_on_unhealthy: true` was written; null when absent or false */
  restartOnUnhealthy: YVal | null;
  console: SpecTemplate['console'];
  logDir: string | null;
}

function readXSkiff(v: YVal | undefined, baseDir: string, origins: Map<string, YVal>): XSkiff {
  if (!v) return { job: false, restartOnUnhealthy: null, console: {}, logDir: null };
  const x = v.map().check(X_SKIFF_KEYS);
  const job = x.get('job')?.boolean() ?? false;
  const unhealthy = x.get('restart_on_unhealthy');
  if (unhealthy) origins.set('restartOnUnhealthy', unhealthy);
  const restartOnUnhealthy = unhealthy?.boolean() ? unhealthy : null;
  const c = x.get('console');
  if (!c) return { job, restartOnUnhealthy, console: {}, logDir: null };
  origins.set('console', c);
  const cm = c.map().check(CONSOLE_KEYS);
  const console: SpecTemplate['console'] = {};
  let logDir: string | null = null;
  const buffer = cm.get('buffer');
  if (buffer) console.buffer = readSize(buffer);
  if (buffer) origins.set('console.buffer', buffer);
  const logMax = cm.get('logMax');
  if (logMax) console.logMax = readSize(logMax);
  if (logMax) origins.set('console.logMax', logMax);
  const log = cm.get('log');
  if (log) {
    origins.set('console.log', log);
    if (typeof log.scalar === 'boolean') console.log = log.boolean();
    else {
      const dir = log.string('true, false or a directory');
      logDir = dir.startsWith('./') || dir.startsWith('../') ? path.resolve(baseDir, dir) : dir;
      if (!logDir.startsWith('/')) log.fail(`expected true, false or a directory (an absolute path), got ${log.describe()}`);
    }
  }
  return { job, restartOnUnhealthy, console, logDir };
}
