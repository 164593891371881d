// Health checks of running containers: when each probe runs, how many run at once, and what
// their results do. The rule for a result is status.ts's; a probe is an exec in the container
// (RunProbe, the exec manager's), which kills it at its timeout.
//
//   `start` event ─▶ watch ─▶ wheel (one timer, wheel.ts) ─due─▶ a free probe slot? ─▶ runProbe
//                              ▲                                  └─no─▶ wait for one (FIFO)   │
//                              └──────────── next delay after the probe ends ◀─────────────────┘
//   `die` / `destroy` event ─▶ unwatch (a probe still in flight is discarded when it ends)
//
// The first probe of a run comes at a random point within its first interval (Docker's comes
// exactly one interval after the start): containers started together then probe at different
// moments, and each keeps its phase, since the next probe is scheduled from the end of the
// last. At most `maxInFlight` probes run at once (of which the exec manager launches at most one
// per launcher but one at a time); a container has at most one probe running or waiting, so a
// skiffd that cannot keep up probes less often instead of piling probes up.
import { probeArgv } from '../../spec/health.js';
import type { DockerEvent, EventBus } from '../events.js';
import { log } from '../log.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { Supervisor } from '../lifecycle/supervisor.js';
import type { Metrics } from '../metrics.js';
import type { RunProbe } from '../exec/probe.js';
import { applyProbe, newHealth, nextDelayMs, type HealthStatus, type ProbeOutcome } from './status.js';
import { TimerWheel } from './wheel.js';

export interface HealthMonitorOptions {
  supervisor: Supervisor;
  events: EventBus;
  metrics: Metrics;
  runProbe: RunProbe;
  /**
   * probes running at once (default DEFAULT_PROBES_IN_FLIGHT); more wait for a slot. How many
   * launch at once is the exec manager's to bound (one launcher fewer than the pool).
   */
  maxInFlight?: number;
}

/**
 * A probe spends most of its time waiting (for a launcher, for the kernel to run the command,
 * for its exit to be seen), little of it on a CPU: on a loaded machine a probe takes a few
 * hundred milliseconds of wall time for about two of CPU, so throughput needs many at once
 * (bench/health.ts: 500 containers at 1 s on 2 busy cores, 186 probes/s with 32 in flight, 301
 * with 128, no more with 256). The bound is what slow probes (ones that run to their timeout)
 * may hold at once: a process, a pipe and a pidfd each.
 */
export const DEFAULT_PROBES_IN_FLIGHT = 128;

/** What a wait for a container's health came to. */
export type HealthWait = 'healthy' | 'unhealthy' | 'not running';

interface Watch {
  r: ContainerRecord;
  startedAtMs: number;
}

export class HealthMonitor {
  private readonly wheel = new TimerWheel();
  /** by container id (a rename keeps it) */
  private readonly watches = new Map<string, Watch>();
  private readonly waitingForSlot: Watch[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly waiters = new Map<string, ((w: HealthWait) => void)[]>();
  private readonly unsubscribe: () => void;

  constructor(private readonly o: HealthMonitorOptions) {
    this.maxInFlight = o.maxInFlight ?? DEFAULT_PROBES_IN_FLIGHT;
    this.unsubscribe = o.events.subscribe(null, (ev) => this.onEvent(ev));
  }

  private onEvent(ev: DockerEvent): void {
    if (ev.Action === 'start') this.watch(ev.id, true);
    else if (ev.Action === 'die' || ev.Action === 'destroy') this.unwatch(ev.id);
  }

  /** After skiffd restarts: the adopted containers' checks go on from the state their records kept. */
  resume(): void {
    for (const r of this.o.supervisor.list()) if (r.status === 'running') this.watch(r.id, false);
  }

  private watch(id: string, fresh: boolean): void {
    const r = this.record(id);
    const h = r?.spec.healthcheck;
    if (!r || !h || r.status !== 'running') return;
    // A new run starts over (as Docker's), keeping the last probes of the one before for inspect.
    if (fresh || !r.health) {
      r.health = newHealth(r.health?.log ?? []);
      void this.o.supervisor.save(r);
    }
    const w: Watch = { r, startedAtMs: Date.parse(r.startedAt ?? new Date().toISOString()) };
    this.watches.set(id, w);
    const first = nextDelayMs(h, r.health, w.startedAtMs, Date.now());
    this.wheel.schedule(id, first * (1 - Math.random()), () => this.due(w));
  }

  private record(id: string): ContainerRecord | null {
    try {
      return this.o.supervisor.get(id);
    } catch {
      return null; // removed since the event
    }
  }

  private unwatch(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    this.watches.delete(id);
    this.wheel.cancel(id);
    const i = this.waitingForSlot.indexOf(w);
    if (i >= 0) this.waitingForSlot.splice(i, 1);
    this.settle(id, 'not running');
  }

  private current(w: Watch): boolean {
    return this.watches.get(w.r.id) === w;
  }

  private due(w: Watch): void {
    if (!this.current(w)) return;
    if (this.inFlight >= this.maxInFlight) this.waitingForSlot.push(w);
    else void this.probe(w);
  }

  private async probe(w: Watch): Promise<void> {
    const h = w.r.spec.healthcheck!;
    this.inFlight++;
    const start = new Date();
    let outcome: ProbeOutcome;
    try {
      const res = await this.o.runProbe(w.r.id, probeArgv(h), h.timeoutMs);
      outcome = { start, end: new Date(), exitCode: res.exitCode, output: res.output, timedOut: res.timedOut };
    } catch (err) {
      // The probe could not run at all (no such program, the container going away): a failure, as in Docker.
      outcome = { start, end: new Date(), exitCode: -1, output: (err as Error).message, timedOut: false };
    } finally {
      this.inFlight--;
      this.nextWaiting();
    }
    this.o.metrics.healthProbes++;
    // Stopped (or stopped and started again) meanwhile: this result belongs to no current run.
    if (!this.current(w)) return;
    const state = w.r.health!;
    const changed = applyProbe(h, state, outcome, w.startedAtMs);
    this.wheel.schedule(w.r.id, nextDelayMs(h, state, w.startedAtMs, Date.now()), () => this.due(w));
    if (changed) this.changed(w, changed);
  }

  private nextWaiting(): void {
    while (this.inFlight < this.maxInFlight && this.waitingForSlot.length > 0) {
      const w = this.waitingForSlot.shift()!;
      if (this.current(w)) void this.probe(w);
    }
  }

  private changed(w: Watch, status: HealthStatus): void {
    const r = w.r;
    this.o.events.emit(`health_status: ${status}`, this.o.supervisor.actor(r));
    // Only changes are written: a probe's log entry is not worth a synced write a second.
    void this.o.supervisor.save(r);
    if (status !== 'starting') this.settle(r.id, status);
    if (status === 'unhealthy' && r.spec.restartOnUnhealthy) {
      log('info', 'stopping an unhealthy container (restartOnUnhealthy)', { name: r.name, failingStreak: r.health?.failingStreak });
      void this.o.supervisor.stopUnhealthy(r.id).catch((err: Error) => log('warn', 'could not stop an unhealthy container', { name: r.name, error: err.message }));
    }
  }

  /**
   * Resolves once the container is healthy or unhealthy (at once if it is now), or once it is
   * not running. For a fleet's `depends_on: condition: service_healthy`.
   */
  waitHealth(r: ContainerRecord): Promise<HealthWait> {
    if (r.status !== 'running' || !this.watches.has(r.id)) return Promise.resolve('not running');
    const status = r.health?.status;
    if (status === 'healthy' || status === 'unhealthy') return Promise.resolve(status);
    return new Promise((resolve) => {
      const list = this.waiters.get(r.id) ?? [];
      list.push(resolve);
      this.waiters.set(r.id, list);
    });
  }

  private settle(id: string, result: HealthWait): void {
    const list = this.waiters.get(id);
    if (!list) return;
    this.waiters.delete(id);
    for (const resolve of list) resolve(result);
  }

  close(): void {
    this.unsubscribe();
    this.wheel.close();
    for (const id of [...this.waiters.keys()]) this.settle(id, 'not running');
    this.watches.clear();
    this.waitingForSlot.length = 0;
  }
}
