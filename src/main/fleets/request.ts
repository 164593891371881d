// The body of POST /fleets → a Fleet the reconciler can trust. The CLI parses the fleet file
// (relative paths need the file's directory) and sends each service's template
// (src/compose/replicas.ts); skiffd still treats it as untrusted input: it makes every
// replica's spec from the template itself, with the names and skiff.* labels the reconciler
// relies on to recognise its containers, and replica 1's goes through validateSpec.
// Errors name the field by its path: `services[1].template.command[0] must not be empty`.
// `resources` (x-skiff.resources) limits the fleet as a whole, on its own cgroup level.
import { SpecError, validateName, validateSpec, type ContainerSpec } from '../../spec/container.js';
import type { DependsOnCondition, Fleet, FleetDependency, FleetService } from '../../compose/fleet.js';
import type { FleetImage, PullPolicy } from '../../compose/types.js';
import { REPLICA_LABELS, replicaInput, replicaName, replicaSpecs, type TemplateShape } from '../../compose/replicas.js';
import { RESERVED_ENV } from '../../compose/service.js';
import { parseReference, ReferenceError } from '../../spec/image-reference.js';
import { hasLimits, ResourceError, validateResources, type ResourcesSpec } from '../../spec/resources.js';
import type { FleetNetwork } from '../../compose/networks.js';
import { InvalidArgument } from '../lifecycle/errors.js';

/** Labels the fleet's replicas carry (src/compose/replicas.ts). */
export { LABEL_FLEET, LABEL_HASH, LABEL_REPLICA, LABEL_SERVICE } from '../../compose/replicas.js';

const CONDITIONS: readonly DependsOnCondition[] = ['service_started', 'service_healthy', 'service_completed_successfully'];
const SERVICE_KEYS = ['name', 'replicas', 'job', 'dependsOn', 'configHash', 'template', 'logDir', 'image'];
const PULL_POLICIES: readonly PullPolicy[] = ['always', 'missing', 'never'];
const HASH = /^[0-9a-f]{8,128}$/;

function bad(field: string, message: string): never {
  throw new InvalidArgument(`${field} ${message}`, field);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : `a value of type ${typeof v}`;
}

function object(v: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field || 'the body', `must be an object, got ${describe(v)}`);
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !keys.includes(k));
  if (unknown !== undefined) bad(field ? `${field}.${unknown}` : unknown, `is not a known field (known: ${keys.join(', ')})`);
  return o;
}

function list(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) bad(field, `must be a list, got ${describe(v)}`);
  return v;
}

function name(v: unknown, field: string): string {
  try {
    return validateName(v, field);
  } catch (err) {
    if (err instanceof SpecError) bad(field, err.message.slice(field.length + 1));
    throw err;
  }
}

function spec(input: Record<string, unknown>, field: string): ContainerSpec {
  try {
    return validateSpec(input);
  } catch (err) {
    if (err instanceof SpecError) bad(`${field}.${err.field}`, err.message.slice(err.field.length + 1));
    throw err;
  }
}

/**
 * A service's template: validateSpec's input less what skiff sets per replica, which it may
 * therefore not carry (a replica's name, SKIFF_FLEET/SERVICE/REPLICA, skiff.* labels).
 */
function template(v: unknown, field: string): TemplateShape {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, `must be an object (a spec without its name), got ${describe(v)}`);
  const t = v as Record<string, unknown>;
  if (t.name !== undefined) bad(`${field}.name`, 'is set per replica (<fleet>-<service>-<replica>); a template has none');
  if (t.env !== undefined) {
    const env = strings(t.env, `${field}.env`);
    const keys = env.map((e) => e.split('=', 1)[0]!);
    const i = keys.findIndex((k) => RESERVED_ENV.includes(k));
    if (i >= 0) bad(`${field}.env[${i}]`, `sets ${keys[i]}, which skiff sets per replica`);
  }
  if (t.labels !== undefined) {
    if (typeof t.labels !== 'object' || t.labels === null || Array.isArray(t.labels)) bad(`${field}.labels`, `must be a map of strings, got ${describe(t.labels)}`);
    const own = Object.keys(t.labels).find((k) => REPLICA_LABELS.includes(k));
    if (own !== undefined) bad(`${field}.labels.${own}`, 'is skiff\'s own label, set per replica');
  }
  if (t.console !== undefined && (typeof t.console !== 'object' || t.console === null || Array.isArray(t.console))) {
    bad(`${field}.console`, `must be an object, got ${describe(t.console)}`);
  }
  return t;
}

/** `logDir`: each replica's console log is `<logDir>/<replica name>.log` (validateSpec checks the path). */
function readLogDir(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !v.startsWith('/')) bad(field, `must be an absolute path, got ${describe(v)}`);
  return v;
}

/**
 * Every replica's spec: replica 1's made from the template and validated (its errors are
 * the template's), the others made from it (src/compose/replicas.ts), with names that are
 * valid as the longest one is.
 */
function serviceSpecs(fleet: string, service: string, field: string, raw: Record<string, unknown>, replicas: number, configHash: string):
  { template: TemplateShape; logDir: string | null; specs: ContainerSpec[] } {
  const t = template(raw.template, `${field}.template`);
  const dir = readLogDir(raw.logDir, `${field}.logDir`);
  const longest = replicaName(fleet, service, Math.max(1, replicas));
  try {
    validateName(longest, 'name');
  } catch (err) {
    if (err instanceof SpecError) bad(`${field}.replicas`, `makes replica names such as ${describe(longest)}, longer than 63 characters`);
    throw err;
  }
  const first = spec(replicaInput(fleet, service, t, dir, 1, configHash), `${field}.template`);
  return { template: t, logDir: dir, specs: replicaSpecs(first, fleet, service, replicas, t.hostname !== undefined, dir !== null) };
}

/** `networks`: [{ name: <fleet>_<key>, subnet?, gateway?, internal }]; the values themselves are checked when a network is made. */
function fleetNetworks(v: unknown, fleet: string): FleetNetwork[] {
  if (v === undefined) return [];
  return list(v, 'networks').map((raw, i) => {
    const f = `networks[${i}]`;
    const o = object(raw, f, ['name', 'subnet', 'gateway', 'internal']);
    const n = name(o.name, `${f}.name`);
    if (!n.startsWith(`${fleet}_`)) bad(`${f}.name`, `must start with ${JSON.stringify(`${fleet}_`)} (a fleet's networks are its own), got ${describe(n)}`);
    if (typeof o.internal !== 'boolean') bad(`${f}.internal`, `must be true or false, got ${describe(o.internal)}`);
    const out: FleetNetwork = { name: n, internal: o.internal };
    for (const k of ['subnet', 'gateway'] as const) {
      if (o[k] === undefined) continue;
      if (typeof o[k] !== 'string') bad(`${f}.${k}`, `must be a string, got ${describe(o[k])}`);
      out[k] = o[k];
    }
    return out;
  });
}

function strings(v: unknown, field: string): string[] {
  return list(v, field).map((x, i) => (typeof x === 'string' ? x : bad(`${field}[${i}]`, `must be a string, got ${describe(x)}`)));
}

/** `image`: a registry image and what the service sets of its config (src/compose/types.ts FleetImage). */
function fleetImage(v: unknown, field: string): FleetImage | null {
  if (v === undefined || v === null) return null;
  const o = object(v, field, ['ref', 'pullPolicy', 'entrypoint', 'command', 'workdir', 'env', 'stopSignal', 'imageHealthcheck']);
  if (o.imageHealthcheck !== undefined && typeof o.imageHealthcheck !== 'boolean') bad(`${field}.imageHealthcheck`, `must be true or false, got ${describe(o.imageHealthcheck)}`);
  if (typeof o.ref !== 'string') bad(`${field}.ref`, `must be an image reference, got ${describe(o.ref)}`);
  try {
    parseReference(o.ref);
  } catch (err) {
    if (err instanceof ReferenceError) bad(`${field}.ref`, err.message);
    throw err;
  }
  if (!PULL_POLICIES.includes(o.pullPolicy as PullPolicy)) bad(`${field}.pullPolicy`, `must be ${PULL_POLICIES.join(', ')}, got ${describe(o.pullPolicy)}`);
  const orNull = <T>(x: unknown, read: (x: unknown) => T): T | null => (x === null || x === undefined ? null : read(x));
  const text = (k: string) => (x: unknown): string => (typeof x === 'string' ? x : bad(`${field}.${k}`, `must be a string, got ${describe(x)}`));
  return {
    ref: o.ref,
    pullPolicy: o.pullPolicy as PullPolicy,
    entrypoint: orNull(o.entrypoint, (x) => strings(x, `${field}.entrypoint`)),
    command: orNull(o.command, (x) => strings(x, `${field}.command`)),
    workdir: orNull(o.workdir, text('workdir')),
    env: o.env === undefined ? [] : strings(o.env, `${field}.env`),
    stopSignal: orNull(o.stopSignal, text('stopSignal')),
    imageHealthcheck: o.imageHealthcheck === true,
  };
}

/**
 * Validates a POST /fleets body: `{ name, services: [{ name, replicas, job, dependsOn,
 * configHash, template, logDir? }] }`. Throws InvalidArgument naming the first bad field; `maxReplicas`
 * bounds the whole fleet before any spec is validated.
 */
export function validateFleetRequest(input: unknown, maxReplicas: number): Fleet {
  const top = object(input, '', ['name', 'services', 'networks', 'resources']);
  const fleet = name(top.name, 'name');
  const rawServices = list(top.services, 'services');
  if (rawServices.length === 0) bad('services', 'must list at least one service');

  let total = 0;
  const shells = rawServices.map((raw, i) => {
    const field = `services[${i}]`;
    const s = object(raw, field, SERVICE_KEYS);
    const replicas = s.replicas;
    if (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 0) {
      bad(`${field}.replicas`, `must be a non-negative integer, got ${describe(replicas)}`);
    }
    total += replicas;
    if (total > maxReplicas) bad(`${field}.replicas`, `brings the fleet to ${total} containers, more than the maximum of ${maxReplicas}`);
    return { field, s, replicas };
  });

  const seen = new Set<string>();
  const services: FleetService[] = shells.map(({ field, s, replicas }) => {
    const service = name(s.name, `${field}.name`);
    if (seen.has(service)) bad(`${field}.name`, `${JSON.stringify(service)} is declared twice`);
    seen.add(service);
    if (typeof s.job !== 'boolean') bad(`${field}.job`, `must be true or false, got ${describe(s.job)}`);
    if (typeof s.configHash !== 'string' || !HASH.test(s.configHash)) {
      bad(`${field}.configHash`, `must be a lower-case hex digest, got ${describe(s.configHash)}`);
    }
    const configHash = s.configHash;
    const dependsOn = list(s.dependsOn, `${field}.dependsOn`).map((d, j): FleetDependency => {
      const df = `${field}.dependsOn[${j}]`;
      const o = object(d, df, ['service', 'condition']);
      const condition = o.condition as DependsOnCondition;
      if (!CONDITIONS.includes(condition)) bad(`${df}.condition`, `must be ${CONDITIONS.join(' or ')}, got ${describe(o.condition)}`);
      return { service: name(o.service, `${df}.service`), condition };
    });
    const { template, logDir, specs } = serviceSpecs(fleet, service, field, s, replicas, configHash);
    return {
      name: service, replicas, job: s.job, dependsOn, configHash, template, logDir,
      specs, image: fleetImage(s.image, `${field}.image`),
    };
  });

  for (const [i, s] of services.entries()) {
    for (const [j, d] of s.dependsOn.entries()) {
      if (!seen.has(d.service)) bad(`services[${i}].dependsOn[${j}].service`, `names no service of the fleet: ${JSON.stringify(d.service)}`);
      // Waiting for a health check that does not exist would wait for ever. One that its image
      // may bring is checked once the image is known (fleets/images.ts).
      const target = services.find((x) => x.name === d.service)!;
      if (d.condition === 'service_healthy' && !target.image?.imageHealthcheck && target.specs.some((c) => c.healthcheck === null)) {
        bad(`services[${i}].dependsOn[${j}].condition`, `is service_healthy, but ${JSON.stringify(d.service)} has no health check`);
      }
    }
  }
  checkAcyclic(services);
  return { name: fleet, services, networks: fleetNetworks(top.networks, fleet), resources: fleetResources(top.resources) };
}

/** `resources`: limits on the fleet's own cgroup level, in the spec's form (src/spec/resources.ts). */
function fleetResources(v: unknown): ResourcesSpec | null {
  if (v === undefined || v === null) return null;
  try {
    const r = validateResources(v, 'resources');
    return hasLimits(r) ? r : null;
  } catch (err) {
    if (err instanceof ResourceError) bad(err.field, err.message.slice(err.field.length + 1));
    throw err;
  }
}

/** A dependency cycle would leave its services waiting on each other for ever. */
function checkAcyclic(services: FleetService[]): void {
  const byName = new Map(services.map((s) => [s.name, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  // Iterative depth-first search: a long chain of services must not exhaust the stack.
  for (const root of services) {
    if (state.has(root.name)) continue;
    const path: { s: FleetService; next: number }[] = [{ s: root, next: 0 }];
    state.set(root.name, 'visiting');
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const dep = top.s.dependsOn[top.next++];
      if (dep === undefined) {
        state.set(top.s.name, 'done');
        path.pop();
        continue;
      }
      const st = state.get(dep.service);
      if (st === 'done') continue;
      if (st === 'visiting') {
        const cycle = [...path.slice(path.findIndex((p) => p.s.name === dep.service)).map((p) => p.s.name), dep.service];
        bad('services', `have a dependency cycle: ${cycle.join(' → ')}`);
      }
      state.set(dep.service, 'visiting');
      path.push({ s: byName.get(dep.service)!, next: 0 });
    }
  }
}
