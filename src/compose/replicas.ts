// A ServiceDef → one validated ContainerSpec per replica, each with its own name,
// hostname, SKIFF_* variables and skiff.* labels, and the service's config hash.
import { SpecError, validateSpec, type ContainerSpec } from '../spec/container.js';
import { configHash } from './config-hash.js';
import type { ServiceDef } from './service.js';
import type { FleetService } from './types.js';

/** Bumped when the meaning of a spec changes, so every container is seen as changed. */
const HASH_FORMAT = 1;

export function replicaName(fleet: string, service: string, n: number): string {
  return `${fleet}-${service}-${n}`;
}

/** Container names allow `_` and `.`, hostnames do not; DNS is case-insensitive, so lower case. */
export function hostnameFor(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'replica';
}

export function expandService(fleet: string, def: ServiceDef): FleetService {
  const first = replicaSpec(fleet, def, 1, null);
  // A registry image's reference, pull policy and the parts it merges with are in the hash
  // (skiffd folds in the image id the reference resolves to); `image` is absent otherwise, so
  // the hashes of other services are as they were.
  const hash = configHash({ format: HASH_FORMAT, job: def.job, spec: replicaIndependent(first, def), image: def.image ?? undefined });
  const specs: ContainerSpec[] = [];
  for (let n = 1; n <= def.replicas; n++) specs.push(replicaSpec(fleet, def, n, hash));
  return {
    name: def.name,
    replicas: def.replicas,
    job: def.job,
    dependsOn: def.dependsOn.map(({ service, condition }) => ({ service, condition })),
    configHash: hash,
    specs,
    image: def.image,
  };
}

function replicaSpec(fleet: string, def: ServiceDef, n: number, hash: string | null): ContainerSpec {
  const name = replicaName(fleet, def.name, n);
  const t = def.template;
  const input = {
    ...t,
    name,
    // An explicit hostname is shared by all replicas, as in Compose; otherwise each has its own.
    hostname: t.hostname ?? hostnameFor(name),
    env: [...t.env, `SKIFF_FLEET=${fleet}`, `SKIFF_SERVICE=${def.name}`, `SKIFF_REPLICA=${n}`],
    labels: {
      ...t.labels,
      'skiff.fleet': fleet,
      'skiff.service': def.name,
      'skiff.replica': String(n),
      ...(hash === null ? {} : { 'skiff.config-hash': hash }),
    },
    console: def.logDir === null ? t.console : { ...t.console, log: `${def.logDir}/${name}.log` },
  };
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
  delete labels['skiff.replica'];
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
