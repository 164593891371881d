// skiffd's fleet API, beside Docker's paths:
//
//   POST   /fleets          body { name, services: [{ name, replicas, job, dependsOn, configHash, specs, image? }],
//                           networks?, resources? } (resources: limits on the fleet's own cgroup level)
//                           (a service's registry image is pulled as its pullPolicy says before the 202)
//                           → 202 { fleet, operation, plan: { create, replace, start, keep, remove } }
//                           400 bad body · 409 a name is taken by a container outside the fleet
//   GET    /fleets          → 200 [{ name, services, containers, running, exited, failed, operation }]
//   GET    /fleets/{name}   → 200 { name, totals, services: [{ name, desired, created, queued, starting,
//                           running, restarting, exited: { code: n }, failed, containers: [...] }],
//                           operation } · ?containers=0 leaves out the per-container lists,
//                           ?containers=not-running lists only those not running (or unhealthy)
//   DELETE /fleets/{name}   → 200 { fleet, removed, errors } once every container is stopped and removed
//
// POST answers as soon as the plan is made and reconciles in the background; clients follow
// it with GET /fleets/{name} until `operation.state` is no longer `running`. So an `up` goes
// on if its client goes away, and progress and status are one view of the same records.
// Operations on one fleet run one at a time; a newer `up` or a `down` aborts the one running
// (its starts not yet begun are skipped, its dependency waits end) and runs after it.
import { asError } from '../../api/errors.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import PQueue from 'p-queue';
import { DEFAULT_MAX_REPLICAS, type Fleet } from '../../compose/fleet.js';
import type { Extensions } from '../http/api.js';
import { readJson } from '../http/body.js';
import { send } from '../http/respond.js';
import { Conflict, InvalidArgument, NotFound, Unsupported } from '../lifecycle/errors.js';
import { CgroupUnavailable, LimitRefused, type Cgroups } from '../cgroups/cgroups.js';
import { LimitError } from '../cgroups/limits.js';
import type { Supervisor } from '../lifecycle/supervisor.js';
import type { Daemon } from '../daemon.js';
import { Operation } from './operation.js';
import { countPlan, planFleet } from './plan.js';
import { reconcile, type ReconcileLimits } from './reconcile.js';
import { validateFleetRequest } from './request.js';
import { stopAndRemove } from './stop.js';
import { fleetListEntry, fleetView, type ContainerSelection } from './view.js';
import { log } from '../log.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { NetworkManager } from '../networks/manager.js';
import type { HealthMonitor } from '../health/monitor.js';
import type { Puller } from '../images/puller.js';
import type { ImageStore } from '../images/store.js';
import { withImages } from './images.js';

export interface FleetApiOptions {
  /** containers per fleet (default: the fleet file's default maximum, 1000) */
  maxReplicas?: number;
  /** the largest POST /fleets body; a spec per replica makes it larger than other bodies */
  maxBodyBytes?: number;
  limits?: Partial<ReconcileLimits>;
}

/** A thousand replicas of a long command with a few mounts and labels stay well below this. */
const DEFAULT_MAX_BODY = 16 << 20;

/** `?containers=`: 0 or false for none, not-running for those a summary reports on, else all. */
function containerSelection(v: string | null): ContainerSelection {
  if (v === '0' || v === 'false') return 'none';
  return v === 'not-running' ? 'not-running' : 'all';
}

export class FleetApi implements Extensions {
  private readonly sup: Supervisor;
  private readonly nets: NetworkManager;
  private readonly health: HealthMonitor;
  private readonly pulls: Puller;
  private readonly images: ImageStore;
  private readonly cgroups: Cgroups | null;
  private readonly maxReplicas: number;
  private readonly maxBody: number;
  private readonly limits: ReconcileLimits;
  /** the running or last operation of each fleet */
  private readonly ops = new Map<string, Operation>();
  /** the tail of each fleet's chain of operations */
  private readonly locks = new Map<string, Promise<void>>();
  private nextId = 1;

  constructor(d: Daemon, opts: FleetApiOptions = {}) {
    this.sup = d.supervisor;
    this.nets = d.networks;
    this.health = d.health;
    this.pulls = d.pulls;
    this.cgroups = d.cgroups;
    this.images = d.images;
    this.maxReplicas = opts.maxReplicas ?? DEFAULT_MAX_REPLICAS;
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.limits = {
      // Enough queued starts to keep every launcher busy, few enough that a `skiff run`
      // arriving meanwhile waits behind a handful of fleet starts, not a thousand.
      starts: opts.limits?.starts ?? Math.max(16, d.pool.size * 8),
      creates: opts.limits?.creates ?? 16,
      stops: opts.limits?.stops ?? 128,
    };
  }

  claims(path: string): boolean {
    return path === '/fleets' || path.startsWith('/fleets/');
  }

  async handle(method: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (path === '/fleets') {
      if (method === 'GET') send(res, 200, this.list());
      else if (method === 'POST') await this.up(req, res);
      else return false;
      return true;
    }
    const m = /^\/fleets\/([^/]+)$/.exec(path);
    if (!m) return false;
    const name = decodeURIComponent(m[1]!);
    if (method === 'GET') {
      send(res, 200, this.view(name, containerSelection(new URL(req.url ?? '/', 'http://skiffd').searchParams.get('containers'))));
    } else if (method === 'DELETE') {
      send(res, 200, await this.down(name));
    } else {
      return false;
    }
    return true;
  }

  /** x-skiff.resources on the fleet's own cgroup level, before any of its containers starts. */
  private fleetLimits(fleet: Fleet): void {
    if (this.cgroups === null) {
      if (fleet.resources) throw new Unsupported('resources: this skiffd runs without cgroups, so a fleet\'s limits cannot be enforced');
      return;
    }
    try {
      this.cgroups.fleetLimits(fleet.name, fleet.resources);
    } catch (err) {
      if (err instanceof CgroupUnavailable || err instanceof LimitRefused || err instanceof LimitError) throw new InvalidArgument(err.message, `resources.${err.field}`);
      throw err;
    }
  }

  /** The fleet's networks exist before its containers are made (an existing one is kept as it is). */
  private async ensureNetworks(fleet: Fleet): Promise<void> {
    for (const n of fleet.networks) {
      if (this.nets.list().some((x) => x.name === n.name)) continue;
      await this.nets.create({ name: n.name, internal: n.internal, ...(n.subnet ? { subnet: n.subnet } : {}), ...(n.gateway ? { gateway: n.gateway } : {}) });
    }
  }

  /** After a down: the fleet's networks (`<fleet>_…`) that no container uses any more. */
  private async removeNetworks(fleet: string): Promise<void> {
    for (const n of this.nets.list()) {
      if (n.name.startsWith(`${fleet}_`) && Object.keys(n.endpoints).length === 0) await this.nets.remove(n.name);
    }
  }

  private members(fleet: string): ContainerRecord[] {
    return this.sup.list().filter((r) => r.fleet === fleet);
  }

  private list(): unknown {
    const byFleet = new Map<string, ContainerRecord[]>([...this.ops.keys()].map((n) => [n, []]));
    for (const r of this.sup.list()) {
      if (r.fleet === null) continue;
      const list = byFleet.get(r.fleet);
      if (list) list.push(r);
      else byFleet.set(r.fleet, [r]);
    }
    return [...byFleet].sort(([a], [b]) => a.localeCompare(b)).map(([n, members]) => fleetListEntry(n, members, this.ops.get(n) ?? null));
  }

  private view(name: string, containers: ContainerSelection): unknown {
    const members = this.members(name);
    const op = this.ops.get(name) ?? null;
    if (members.length === 0 && op === null) throw new NotFound(`No such fleet: ${name}`);
    return fleetView(name, members, op, { containers });
  }

  /** Runs `fn` once every earlier operation on the fleet has finished. */
  private async exclusive<T>(fleet: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(fleet) ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const mine = prev.then(() => gate);
    this.locks.set(fleet, mine);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(fleet) === mine) this.locks.delete(fleet);
    }
  }

  private async up(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = validateFleetRequest(await readJson(req, this.maxBody), this.maxReplicas);
    this.checkForeignNames(declared);
    // Registry images are pulled (as each pull_policy says) before anything is planned or made.
    const fleet = await withImages(declared, this.pulls, this.images);
    this.fleetLimits(fleet);
    await this.ensureNetworks(fleet);
    this.ops.get(fleet.name)?.abort('superseded by a newer fleet up');
    const started = new Promise<Operation>((resolve, reject) => {
      void this.exclusive(fleet.name, async () => {
        let op: Operation | null = null;
        try {
          // Planned under the lock, from the records as the previous operation left them.
          this.checkForeignNames(fleet);
          const plan = planFleet(fleet, this.members(fleet.name));
          const declared = fleet.services.map((s) => ({ name: s.name, replicas: s.replicas, job: s.job }));
          op = new Operation(this.nextId++, 'up', countPlan(plan), declared, new Set(plan.remove));
          this.ops.set(fleet.name, op);
          resolve(op);
          await reconcile(this.sup, fleet, plan, op, this.limits, (r) => this.health.waitHealth(r));
        } catch (err) {
          if (op === null) reject(asError(err));
          else log('error', 'fleet up failed', { fleet: fleet.name, operation: op.id, error: (err as Error).message });
        } finally {
          op?.finish();
        }
      });
    });
    const op = await started;
    log('info', 'fleet up', { fleet: fleet.name, operation: op.id, ...op.plan });
    send(res, 202, { fleet: fleet.name, operation: op.id, plan: op.plan });
  }

  /** A declared name held by a container outside the fleet would be taken over or fail: refuse up front. */
  private checkForeignNames(fleet: Fleet): void {
    for (const s of fleet.services) {
      for (const spec of s.specs) {
        let r: ContainerRecord;
        try {
          r = this.sup.get(spec.name);
        } catch {
          continue;
        }
        if (r.name === spec.name && r.fleet !== fleet.name) {
          throw new Conflict(`Conflict. The container name "/${spec.name}" is already in use by a container ${r.fleet === null ? 'outside any fleet' : `of fleet ${r.fleet}`}`);
        }
      }
    }
  }

  private async down(name: string): Promise<unknown> {
    if (this.members(name).length === 0 && !this.ops.has(name)) throw new NotFound(`No such fleet: ${name}`);
    this.ops.get(name)?.abort('superseded by fleet down');
    return this.exclusive(name, async () => {
      const members = this.members(name);
      const plan = { create: 0, replace: 0, start: 0, keep: 0, remove: members.length };
      const op = new Operation(this.nextId++, 'down', plan, [], new Set(members.map((r) => r.name)));
      this.ops.set(name, op);
      log('info', 'fleet down', { fleet: name, operation: op.id, containers: members.length });
      const bound = new PQueue({ concurrency: this.limits.stops });
      let removed = 0;
      await Promise.all(members.map((r) => bound.add(async () => {
        try {
          await stopAndRemove(this.sup, r.name);
          removed++;
        } catch (err) {
          op.fail(r.name, (err as Error).message);
        }
      })));
      await this.removeNetworks(name).catch((err: Error) => op.fail(`${name}_*`, err.message));
      op.finish();
      const errors = op.view().errors;
      // Nothing left to report on: the fleet is gone (unless something could not be removed).
      if (this.ops.get(name) === op && this.members(name).length === 0) this.ops.delete(name);
      return { fleet: name, removed, errors };
    });
  }
}
