// What a `fleet up` has to do, decided from the declared fleet and the fleet's containers as
// they are now. Pure: the records are the only state, so the plan after a daemon restart is
// the same as before it.
//
// Per declared replica (matched by name):
//   missing                                   → create (then start)
//   other config hash                         → replace (stop, remove, create, start)
//   same hash, queued/starting/running/restarting → keep
//   same hash, a job that has exited          → keep (it ran; rerunning is `down` + `up`)
//   same hash, created/failed/exited service  → start it again (as `docker compose up` does)
// Containers of the fleet that are no longer declared → remove.
import type { PlanCounts } from '../../api/fleets.js';
import type { Fleet, FleetService } from '../../compose/fleet.js';
import type { ContainerSpec } from '../../spec/container.js';
import { LABEL_HASH } from './request.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import { isActive } from '../lifecycle/states.js';

export type Action =
  | { kind: 'keep'; name: string }
  | { kind: 'start'; name: string }
  | { kind: 'create'; name: string; spec: ContainerSpec }
  | { kind: 'replace'; name: string; spec: ContainerSpec };

export interface ServicePlan {
  service: FleetService;
  actions: Action[];
}

export interface Plan {
  services: ServicePlan[];
  /** containers of the fleet that are no longer declared */
  remove: string[];
}

export function planFleet(fleet: Fleet, members: readonly ContainerRecord[]): Plan {
  const byName = new Map(members.map((r) => [r.name, r]));
  const declared = new Set<string>();
  const services = fleet.services.map((service): ServicePlan => ({
    service,
    actions: service.specs.map((spec): Action => {
      declared.add(spec.name);
      const r = byName.get(spec.name);
      if (!r) return { kind: 'create', name: spec.name, spec };
      if (r.spec.labels[LABEL_HASH] !== service.configHash) return { kind: 'replace', name: spec.name, spec };
      if (isActive(r) || (service.job && r.status === 'exited')) return { kind: 'keep', name: spec.name };
      return { kind: 'start', name: spec.name };
    }),
  }));
  const remove = members.filter((r) => !declared.has(r.name)).map((r) => r.name).sort();
  return { services, remove };
}

export function countPlan(plan: Plan): PlanCounts {
  const c: PlanCounts = { create: 0, replace: 0, start: 0, keep: 0, remove: plan.remove.length };
  for (const s of plan.services) for (const a of s.actions) c[a.kind]++;
  return c;
}
