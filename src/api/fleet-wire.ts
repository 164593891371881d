// A parsed fleet → the body of POST /fleets. Each service travels as its template, once
// (src/compose/replicas.ts), not as a spec per replica: skiffd makes the replicas from it as
// the parser did, so a fleet of a thousand is a body of a few hundred bytes. skiffd validates
// the template again (it trusts no client).
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
      template: s.template,
      ...(s.logDir === null ? {} : { logDir: s.logDir }),
      ...(s.image ? { image: s.image } : {}),
    })),
  };
}
