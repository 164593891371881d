// A parsed fleet → the body of POST /fleets. Each spec goes in the form validateSpec reads
// (skiffd validates it again: it trusts no client), which writes the restart policy as
// Compose and Docker do, `on-failure:3`, rather than as the parsed object.
import { formatRestart } from '../spec/container.js';
import type { Fleet } from '../compose/fleet.js';

export function fleetRequestBody(fleet: Fleet): unknown {
  return {
    name: fleet.name,
    networks: fleet.networks,
    ...(fleet.resources ? { resources: fleet.resources } : {}),
    services: fleet.services.map((s) => ({
      name: s.name,
      replicas: s.replicas,
      job: s.job,
      dependsOn: s.dependsOn,
      configHash: s.configHash,
      specs: s.specs.map((spec) => ({ ...spec, restart: formatRestart(spec.restart) })),
      ...(s.image ? { image: s.image } : {}),
    })),
  };
}
