// A service's template → one validated ContainerSpec per replica, each with its own name,
// hostname, SKIFF_* variables and skiff.* labels, and the service's config hash.
//
// The template is validateSpec's input less what differs per replica. The fleet parser makes
// it from the file; POST /fleets carries it (one per service, not one spec per replica) and
// skiffd makes the replicas from it again with these same functions (src/main/fleets/request.ts).
// Replica 1 is validated in full; the others are replica 1 with its per-replica fields
// swapped (replicaOf), which validateSpec would accept as they are: a name that matches
// NAME_PATTERN (the longest is checked), its hostname, one env entry, one label, a log file
// in the same directory. So a fleet of a thousand costs one validation, not a thousand.
import { SpecError, validateSpec, type ContainerSpec } from '../spec/container.js';
import { configHash } from './config-hash.js';
import type { ServiceDef } from './service.js';
import type { FleetService } from './types.js';

/** Bumped when the meaning of a spec changes, so every container is seen as changed. */
const HASH_FORMAT = 1;

export const LABEL_FLEET = 'skiff.fleet';
export const LABEL_SERVICE = 'skiff.service';
export const LABEL_REPLICA = 'skiff.replica';
export const LABEL_HASH = 'skiff.config-hash';
/** The labels skiff sets on every replica; a template may not carry them. */
export const REPLICA_LABELS: readonly string[] = [LABEL_FLEET, LABEL_SERVICE, LABEL_REPLICA, LABEL_HASH];

export function replicaName(fleet: string, service: string, n: number): string {
  return `${fleet}-${service}-${n}`;
}

/** Container names allow `_` and `.`, hostnames do not; DNS is case-insensitive, so lower case. */
export function hostnameFor(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'replica';
}

/** What replicaInput reads of a template: it is otherwise passed through to validateSpec. */
export interface TemplateShape {
  hostname?: unknown;
  env?: readonly unknown[];
  labels?: object;
  console?: object;
}

/**
 * validateSpec's input for replica `n` of a service: the template plus its name, its hostname
 * (unless the template sets one, shared as in Compose), SKIFF_FLEET/SERVICE/REPLICA, the
 * skiff.* labels (the hash once known), and its own log file in `logDir` if there is one.
 */
export function replicaInput(fleet: string, service: string, template: TemplateShape, logDir: string | null, n: number, hash: string | null): Record<string, unknown> {
  const name = replicaName(fleet, service, n);
  return {
    ...template,
    name,
    hostname: template.hostname ?? hostnameFor(name),
    env: [...(template.env ?? []), `SKIFF_FLEET=${fleet}`, `SKIFF_SERVICE=${service}`, `SKIFF_REPLICA=${n}`],
    labels: {
      ...template.labels,
      [LABEL_FLEET]: fleet,
      [LABEL_SERVICE]: service,
      [LABEL_REPLICA]: String(n),
      ...(hash === null ? {} : { [LABEL_HASH]: hash }),
    },
    console: logDir === null ? template.console : { ...template.console, log: `${logDir}/${name}.log` },
  };
}

/**
 * Replica `n`'s spec from replica 1's (validated, made by replicaInput): what differs per
 * replica swapped, the rest shared (specs are never changed in place: a record that changes
 * gets a new spec object). `sharedHostname`: the template set one; `perReplicaLog`: each
 * replica logs to a file of its own, in the directory of replica 1's.
 */
export function replicaOf(first: ContainerSpec, fleet: string, service: string, n: number, sharedHostname: boolean, perReplicaLog: boolean): ContainerSpec {
  const name = replicaName(fleet, service, n);
  const log = first.console.log;
  return {
    ...first,
    name,
    hostname: sharedHostname ? first.hostname : hostnameFor(name),
    env: first.env.map((e) => (e.startsWith('SKIFF_REPLICA=') ? `SKIFF_REPLICA=${n}` : e)),
    labels: { ...first.labels, [LABEL_REPLICA]: String(n) },
    console: perReplicaLog && typeof log === 'string' ? { ...first.console, log: `${log.slice(0, log.lastIndexOf('/'))}/${name}.log` } : first.console,
  };
}

/** Every replica's spec: `first` (replica 1's, validated) and the rest made from it. */
export function replicaSpecs(first: ContainerSpec, fleet: string, service: string, replicas: number, sharedHostname: boolean, perReplicaLog: boolean): ContainerSpec[] {
  const specs = replicas > 0 ? [first] : [];
  for (let n = 2; n <= replicas; n++) specs.push(replicaOf(first, fleet, service, n, sharedHostname, perReplicaLog));
  return specs;
}

export function expandService(fleet: string, def: ServiceDef): FleetService {
  const unhashed = validated(def, replicaInput(fleet, def.name, def.template, def.logDir, 1, null));
  // A registry image's reference, pull policy and the parts it merges with are in the hash
  // (skiffd folds in the image id the reference resolves to); `image` is absent otherwise, so
  // the hashes of other services are as they were.
  const hash = configHash({ format: HASH_FORMAT, job: def.job, spec: replicaIndependent(unhashed, def), image: def.image ?? undefined });
  // The same as validating replicaInput(…, hash): a label of hex digits is valid.
  const first = { ...unhashed, labels: { ...unhashed.labels, [LABEL_HASH]: hash } };
  return {
    name: def.name,
    replicas: def.replicas,
    job: def.job,
    dependsOn: def.dependsOn.map(({ service, condition }) => ({ service, condition })),
    configHash: hash,
    template: def.template,
    logDir: def.logDir,
    specs: replicaSpecs(first, fleet, def.name, def.replicas, def.template.hostname !== undefined, def.logDir !== null),
    image: def.image,
  };
}

function validated(def: ServiceDef, input: Record<string, unknown>): ContainerSpec {
  try {
    return validateSpec(input);
  } catch (err) {
    if (err instanceof SpecError) placeSpecError(def, err);
    throw err;
  }
}

/**
 * The normalized definition the hash covers: a validated spec (so defaults written out or
 * left implicit hash the same) with everything that varies by replica taken out. The
 * replica count is not in it: scaling a service does not change its existing containers.
 */
function replicaIndependent(spec: ContainerSpec, def: ServiceDef): unknown {
  const labels = { ...spec.labels };
  delete labels[LABEL_REPLICA];
  return {
    ...spec,
    name: null,
    hostname: def.template.hostname ?? null,
    env: spec.env.filter((e) => !e.startsWith('SKIFF_REPLICA=')),
    labels,
    console: { ...spec.console, log: def.logDir ?? spec.console.log },
    // Absent rather than null or false (undefined is left out of the hash): a service without a
    // health check keeps the hash it had before skiff had health checks, so an upgrade replaces nothing.
    healthcheck: spec.healthcheck ?? undefined,
    restartOnUnhealthy: spec.restartOnUnhealthy || undefined,
  };
}

/**
 * validateSpec names spec fields (`mounts[1].target`); find the YAML value that field came
 * from, trying the field and then ever shorter prefixes of it (`mounts[1]`, `mounts`), and
 * fail there with the rest of the field in the message. Unknown fields fall back to the
 * service's key.
 */
function placeSpecError(def: ServiceDef, err: SpecError): never {
  const reason = err.message.startsWith(`${err.field} `) ? err.message.slice(err.field.length + 1) : err.message;
  for (let prefix = err.field; prefix; ) {
    const origin = def.origins.get(prefix);
    if (origin) {
      const rest = err.field.slice(prefix.length).replace(/^[. ]/, '');
      return origin.fail(rest ? `${rest} ${reason}` : reason);
    }
    const shorter = prefix.replace(/(\[\d+\]|[. ][^.[ ]*)$/, '');
    prefix = shorter === prefix ? '' : shorter;
  }
  return def.at.fail(err.message);
}

