// depends_on across a fleet: every name must be a service of the fleet, one waited on until
// healthy must have a health check, and there must be no cycle; serviceOrder gives the reconciler the order to start services in.
import { closest } from './did-you-mean.js';
import type { ServiceDef } from './service.js';
import type { Fleet } from './types.js';

export function checkDependencies(defs: readonly ServiceDef[]): void {
  const byName = new Map(defs.map((d) => [d.name, d]));
  for (const d of defs) {
    for (const dep of d.dependsOn) {
      const target = byName.get(dep.service);
      if (target) {
        // Compose finds this out when the dependency is started; here it is a mistake in the file.
        // A registry image may bring its own check: skiffd decides that once it has the image.
        const fromImage = target.image?.imageHealthcheck === true;
        if (dep.condition === 'service_healthy' && !target.template.healthcheck && !fromImage) {
          dep.from.fail(`service_healthy: "${dep.service}" has no health check to pass (add healthcheck: to it, or use service_started)`);
        }
        continue;
      }
      const guess = closest(dep.service, byName.keys());
      dep.from.fail(`unknown service "${dep.service}"${guess ? `, did you mean "${guess}"?` : ''}`);
    }
  }
  // Depth-first search with an explicit stack: a chain of a thousand services must not
  // exhaust the call stack. A dependency on a service still on the path closes a cycle.
  const done = new Set<string>();
  for (const root of defs) {
    if (done.has(root.name)) continue;
    const path: { def: ServiceDef; next: number }[] = [{ def: root, next: 0 }];
    const onPath = new Set([root.name]);
    while (path.length > 0) {
      const top = path[path.length - 1] as { def: ServiceDef; next: number };
      const dep = top.def.dependsOn[top.next++];
      if (dep === undefined) {
        done.add(top.def.name);
        onPath.delete(top.def.name);
        path.pop();
        continue;
      }
      if (done.has(dep.service)) continue;
      if (onPath.has(dep.service)) {
        const start = path.findIndex((p) => p.def.name === dep.service);
        const cycle = [...path.slice(start).map((p) => p.def.name), dep.service];
        dep.from.fail(`dependency cycle: ${cycle.join(' → ')}`);
      }
      path.push({ def: byName.get(dep.service) as ServiceDef, next: 0 });
      onPath.add(dep.service);
    }
  }
}

/**
 * Services in dependency levels: the first level depends on nothing, each later level
 * only on earlier ones; within a level, the order of the file. Start level by level
 * (waiting on each dependency's condition); stop in the reverse order.
 */
export function serviceOrder(fleet: Fleet): string[][] {
  const placed = new Set<string>();
  const levels: string[][] = [];
  let rest = fleet.services;
  while (rest.length > 0) {
    const level = rest.filter((s) => s.dependsOn.every((d) => placed.has(d.service)));
    if (level.length === 0) {
      throw new Error(`fleet ${fleet.name}: services ${rest.map((s) => s.name).join(', ')} depend on each other or on unknown services`);
    }
    for (const s of level) placed.add(s.name);
    levels.push(level.map((s) => s.name));
    rest = rest.filter((s) => !placed.has(s.name));
  }
  return levels;
}
