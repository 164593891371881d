// Carries out a fleet plan (fleet-plan.ts) against the supervisor.
//
//   removals                        (bounded: stops)
//   create / replace each container ─▶ ready[name]   (bounded: creates)
//   per service, once its depends_on conditions hold (started; healthy: each replica's health
//   check passed; completed_successfully: each exited 0):
//       start each of its containers   (bounded: starts; 429 → back off and retry)
//
// Services wait only for their own dependencies, so independent services start side by
// side. One container failing never stops its siblings: the failure is recorded on the
// operation (and on the container's record) and the rest go on. A dependency that fails
// leaves its dependents created but not started, each with the reason.
import { errorMessage } from '../../api/errors.js';
import PQueue from 'p-queue';
import { serviceOrder, type Fleet } from '../../compose/fleet.js';
import { NotFound, QueueFull } from '../lifecycle/errors.js';
import type { Supervisor } from '../lifecycle/supervisor.js';
import type { Operation } from './operation.js';
import type { Plan, ServicePlan } from './plan.js';
import { stopAndRemove } from './stop.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { HealthWait } from '../health/monitor.js';

/** Resolves once a running container is healthy or unhealthy, or is not running (src/main/health). */
export type WaitHealth = (r: ContainerRecord) => Promise<HealthWait>;

export interface ReconcileLimits {
  /** starts this reconcile keeps in the supervisor's queue at once */
  starts: number;
  /**
   * creates at once: a create is a directory, a console and a synced state file, far quicker
   * than a start, so a few suffice to stay ahead of the starts; more only make bursts that
   * delay the launchers' replies on skiffd's event loop (and grow its heap).
   */
  creates: number;
  /** stops and removals at once: they mostly wait (for an exit, a grace period) */
  stops: number;
}

// A 429 costs skiffd next to nothing, and a queue that was full frees a slot within one
// start (milliseconds): retry soon, with jitter so the waiting starts do not retry in step.
const BACKOFF_FIRST_MS = 5;
const BACKOFF_MAX_MS = 200;



/** Resolves like `p`, or rejects once `signal` aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = (): Error => (signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return abortable(new Promise((resolve) => setTimeout(resolve, ms)), signal);
}

/** How a service's starts went, for the services that depend on it. */
interface ServiceOutcome {
  /** containers of the service that are not running because of this operation */
  failed: string[];
}

export async function reconcile(sup: Supervisor, fleet: Fleet, plan: Plan, op: Operation, limits: ReconcileLimits, waitHealth: WaitHealth): Promise<void> {
  const creates = new PQueue({ concurrency: limits.creates });
  const stops = new PQueue({ concurrency: limits.stops });
  const starts = new PQueue({ concurrency: limits.starts });
  const { signal } = op;

  const removals = plan.remove.map((name) => stops.add(() => stopAndRemove(sup, name))
    .catch((err: unknown) => op.fail(name, `remove: ${errorMessage(err)}`)));

  // Every missing container is created up front, before its dependencies are met, so that
  // `fleet status` shows the whole fleet at once, waiting ones as created.
  const ready = new Map<string, Promise<boolean>>();
  for (const sp of plan.services) {
    for (const a of sp.actions) {
      if (a.kind !== 'create' && a.kind !== 'replace') continue;
      ready.set(a.name, (async (): Promise<boolean> => {
        if (a.kind === 'replace') {
          // The old container's stop may sit out a grace period: it waits among the stops,
          // not in a create slot.
          try {
            await stops.add(() => stopAndRemove(sup, a.name));
          } catch (err) {
            op.fail(a.name, `remove the old container: ${errorMessage(err)}`);
            return false;
          }
        }
        if (signal.aborted) return false;
        try {
          await creates.add(() => sup.create(a.spec, { fleet: fleet.name }));
          return true;
        } catch (err) {
          op.fail(a.name, `create: ${errorMessage(err)}`);
          return false;
        }
      })());
    }
  }

  const startOne = async (name: string): Promise<void> => {
    for (let delay = BACKOFF_FIRST_MS; !signal.aborted; delay = Math.min(BACKOFF_MAX_MS, delay * 2)) {
      try {
        await sup.start(name);
        return;
      } catch (err) {
        // A full queue is back-pressure, not failure (other clients start containers too).
        if (err instanceof QueueFull) {
          await sleep(delay * (0.5 + Math.random()), signal).catch(() => undefined);
          continue;
        }
        op.fail(name, errorMessage(err));
        return;
      }
    }
  };

  const byName = new Map(plan.services.map((sp) => [sp.service.name, sp]));
  const outcomes = new Map<string, Promise<ServiceOutcome>>();

  const runService = async (sp: ServicePlan): Promise<ServiceOutcome> => {
    const blocked = await dependenciesBlock(sp);
    // Superseded: leave what is not started as created, for the newer operation to decide.
    if (signal.aborted) return { failed: [] };
    const pending = sp.actions.filter((a) => a.kind !== 'keep');
    if (blocked !== null) {
      await Promise.all(pending.map(async (a) => {
        if (await (ready.get(a.name) ?? true)) op.fail(a.name, `not started: ${blocked}`);
      }));
    } else {
      await Promise.all(pending.map(async (a) => {
        if (!(await (ready.get(a.name) ?? true)) || signal.aborted) return;
        await starts.add(() => startOne(a.name));
      }));
    }
    return { failed: sp.service.specs.map((s) => s.name).filter((n) => op.errors.has(n)) };
  };

  /** null once every depends_on condition holds; else why the service cannot start. */
  const dependenciesBlock = async (sp: ServicePlan): Promise<string | null> => {
    try {
      for (const dep of sp.service.dependsOn) {
        const out = await abortable(outcomes.get(dep.service)!, signal);
        if (out.failed.length > 0) {
          const first = out.failed[0]!;
          return `dependency ${dep.service} did not start (${first}: ${op.errors.get(first)})`;
        }
        const names = byName.get(dep.service)!.service.specs.map((s) => s.name);
        if (dep.condition === 'service_healthy') {
          const unready = await abortable(firstUnhealthy(sup, names, waitHealth), signal);
          if (unready !== null) return `dependency ${dep.service} is not healthy (${unready})`;
          continue;
        }
        if (dep.condition !== 'service_completed_successfully') continue;
        const ended = await abortable(Promise.all(names.map((n) => waitNotRunning(sup, n))), signal);
        const bad = ended.findIndex((r) => !(r !== null && r.status === 'exited' && r.exitCode === 0));
        if (bad >= 0) return `dependency ${dep.service} did not complete successfully (${names[bad]} ${howItEnded(ended[bad]!)})`;
      }
      return null;
    } catch (err) {
      return signal.aborted ? 'superseded' : `waiting for a dependency failed: ${errorMessage(err)}`;
    }
  };

  // serviceOrder puts every dependency before its dependents, so each task finds the
  // outcomes it waits for already registered.
  for (const name of serviceOrder(fleet).flat()) outcomes.set(name, runService(byName.get(name)!));
  await Promise.all([...removals, ...outcomes.values()]);
  await Promise.all([creates.onIdle(), stops.onIdle()]);
}

/** Waits for every replica's health check to decide; null if all passed, else the first that did not and how. */
async function firstUnhealthy(sup: Supervisor, names: string[], waitHealth: WaitHealth): Promise<string | null> {
  const results = await Promise.all(names.map(async (n): Promise<string | null> => {
    let r: ContainerRecord;
    try {
      r = sup.get(n);
    } catch (err) {
      if (err instanceof NotFound) return `${n} was removed`;
      throw err;
    }
    const health = await waitHealth(r);
    if (health === 'healthy') return null;
    const last = r.health?.log.at(-1);
    if (health === 'unhealthy') {
      return `${n} is unhealthy after ${r.health?.failingStreak ?? 0} failed probes${last ? `; the last exited ${last.exitCode}${last.output ? `: ${last.output.trim().slice(0, 200)}` : ''}` : ''}`;
    }
    return `${n} ${howItEnded(r)}`;
  }));
  return results.find((x) => x !== null) ?? null;
}

/** The record once it is not running, or null if it was removed. */
async function waitNotRunning(sup: Supervisor, name: string): Promise<ContainerRecord | null> {
  try {
    return await sup.wait(name, 'not-running');
  } catch (err) {
    if (err instanceof NotFound) return null;
    throw err;
  }
}

function howItEnded(r: ContainerRecord | null): string {
  if (r === null) return 'was removed';
  switch (r.status) {
    case 'exited': return r.exitCode === 0 ? 'exited with 0' : `exited with ${r.exitCode ?? 'an unknown status'}${r.error ? `: ${r.error}` : ''}`;
    case 'failed': return `failed to start: ${r.error ?? 'unknown error'}`;
    case 'created': return 'was never started';
    case 'removed': return 'was removed';
    case 'queued':
    case 'starting':
    case 'running':
    case 'restarting': return `is ${r.status}`;
  }
}
