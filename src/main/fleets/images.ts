// A fleet's registry images, made real before anything is planned: each reference pulled as
// its pull_policy says (once, however many services and replicas use it), then its config
// merged into every replica's spec as Docker merges an image into `docker run` (the service's
// entrypoint, command, environment, working_dir and stop_signal win; the image's Healthcheck
// applies to a service without a `healthcheck:` of its own), and its layers set as the spec's
// `fromImage`. Every replica stacks the same layer directories under an upper dir
// of its own, so a fleet of a thousand costs the store nothing.
//
// The config hash each replica carries then covers the image id the reference resolved to:
// a later `fleet up` that pulls a newer image under the same tag replaces the replicas.
import { createHash } from 'node:crypto';
import type { Fleet, FleetService } from '../../compose/fleet.js';
import type { FleetImage } from '../../compose/types.js';
import { formatRestart, SpecError, validateSpec, type ContainerSpec } from '../../spec/container.js';
import type { HealthcheckSpec } from '../../spec/health.js';
import { CreateError } from '../docker/fields.js';
import { healthcheckFromDocker } from '../docker/health.js';
import { imageCommand, imageEnv } from '../images/apply.js';
import { imageForRun, type ImageForRun } from '../images/lookup.js';
import type { Puller } from '../images/puller.js';
import type { ImageStore } from '../images/store.js';
import { resolveUser, UserError } from '../images/user.js';
import { InvalidArgument, NotFound, Unavailable } from '../lifecycle/errors.js';
import { LABEL_HASH } from './request.js';
import { replicaSpecs } from '../../compose/replicas.js';

/** What skiff sets per replica (src/compose/replicas.ts): kept through the merge. */
const REPLICA_ENV = /^SKIFF_(FLEET|SERVICE|REPLICA)=/;

/** The same error kind (its HTTP status), its message placed at the service's image. */
function placed(err: unknown, field: string, ref: string): Error {
  const message = `${field}: ${ref}: ${(err as Error).message}`;
  if (err instanceof NotFound) return new NotFound(message);
  if (err instanceof InvalidArgument) return new InvalidArgument(message, field);
  // A registry that is down or sent bad bytes (a digest mismatch, a hostile layer): nothing
  // the fleet file can fix.
  return new Unavailable(message);
}

/** Resolves every service's registry image; the fleet returned has complete specs. */
export async function withImages(fleet: Fleet, pulls: Puller, store: ImageStore): Promise<Fleet> {
  if (!fleet.services.some((s) => s.image !== null)) return fleet;
  const services = await Promise.all(fleet.services.map(async (s, i): Promise<FleetService> => {
    if (s.image === null) return s;
    const field = `services[${i}].image`;
    let run: ImageForRun | null;
    try {
      const record = await pulls.ensure(s.image.ref, s.image.pullPolicy);
      run = imageForRun(store, record.id);
    } catch (err) {
      throw placed(err, field, s.image.ref);
    }
    if (run === null) throw new Unavailable(`${field}: ${s.image.ref} was deleted while the fleet was being planned`);
    return merged(fleet.name, s, s.image, run, i);
  }));
  checkHealthyDependencies(services);
  return { ...fleet, services };
}

/** `service_healthy` on a service whose image was to bring the check: there must be one now. */
function checkHealthyDependencies(services: readonly FleetService[]): void {
  for (const [i, s] of services.entries()) {
    for (const [j, d] of s.dependsOn.entries()) {
      const target = services.find((x) => x.name === d.service);
      if (d.condition !== 'service_healthy' || !target || target.specs.every((c) => c.healthcheck !== null)) continue;
      const field = `services[${i}].dependsOn[${j}].condition`;
      const why = target.image ? `neither it nor its image ${target.image.ref} has one` : 'it has none';
      throw new InvalidArgument(`${field}: is service_healthy, but ${JSON.stringify(d.service)} has no health check (${why})`, field);
    }
  }
}

/** The image's Healthcheck as the spec's, where the service takes it (null: none). */
function imageHealthcheck(own: FleetImage, config: ImageForRun['config'], field: string): HealthcheckSpec | null {
  if (!own.imageHealthcheck || config.Healthcheck === undefined || config.Healthcheck === null) return null;
  try {
    return healthcheckFromDocker(undefined, config.Healthcheck);
  } catch (err) {
    if (err instanceof CreateError) throw new InvalidArgument(`${field}: ${own.ref}: ${err.message}`, field);
    throw err;
  }
}

function merged(fleet: string, s: FleetService, own: FleetImage, run: ImageForRun, i: number): FleetService {
  const field = `services[${i}].image`;
  const config = run.config;
  const command = imageCommand(config, own.entrypoint ?? undefined, own.command ?? undefined);
  if (command.length === 0) throw new InvalidArgument(`${field}: ${own.ref} has no Entrypoint or Cmd, and the service gives no command`, field);
  let user;
  try {
    user = resolveUser(config.User ?? '', run.etc('passwd'), run.etc('group'));
  } catch (err) {
    if (err instanceof UserError) throw new InvalidArgument(`${field}: ${own.ref}: the image's User: ${err.message}`, field);
    throw err;
  }
  const configHash = createHash('sha256').update(`${s.configHash} ${run.id}`).digest('hex');
  const healthcheck = imageHealthcheck(own, config, field);
  // An image's labels go under the service's; skiff.* ones are skiff's own (the reconciler reads them).
  const imageLabels = Object.fromEntries(Object.entries(config.Labels ?? {}).filter(([k]) => !k.startsWith('skiff.')));
  // Replica 1's spec merged and validated; the others made from it (src/compose/replicas.ts).
  const spec = s.specs[0];
  if (spec === undefined) return { ...s, configHash };
  const input = {
    ...spec,
    restart: formatRestart(spec.restart),
    command,
    env: imageEnv(config, [...own.env, ...spec.env.filter((e) => REPLICA_ENV.test(e))]),
    workdir: own.workdir ?? (config.WorkingDir || '/'),
    user,
    stopSignal: own.stopSignal ?? config.StopSignal ?? 'SIGTERM',
    labels: { ...imageLabels, ...spec.labels, [LABEL_HASH]: configHash },
    fromImage: { ref: own.ref, id: run.id, layers: run.layers },
    ...(healthcheck === null ? {} : { healthcheck }),
  };
  let first: ContainerSpec;
  try {
    first = validateSpec(input);
  } catch (err) {
    if (err instanceof SpecError) throw new InvalidArgument(`services[${i}].template.${err.field}: with the image ${own.ref}: ${err.message.slice(err.field.length + 1)}`, err.field);
    throw err;
  }
  const specs = replicaSpecs(first, fleet, s.name, s.replicas, s.template.hostname !== undefined, s.logDir !== null);
  return { ...s, configHash, specs };
}
