// What is running or pending for each container, by id: its PID 1 (a signal and the promise
// that its exit has been recorded), a launch in flight (which cannot be cancelled), and a
// restart waiting out its back-off. The supervisor decides; this only keeps track.
import type { ExitStatus } from './reaper.js';

interface Live {
  signal: (sig: number) => void;
  /** resolves once the exit is recorded (status, exit code, restart decided) */
  recorded: Promise<void>;
}

export class Runs {
  private readonly live = new Map<string, Live>();
  private readonly launching = new Map<string, Promise<void>>();
  private readonly restarts = new Map<string, NodeJS.Timeout>();

  /** PID 1 of `id` runs: `onExit` records its end (the reaper's status). */
  watch(id: string, handle: { signal: (sig: number) => void; exited: Promise<ExitStatus> }, onExit: (st: ExitStatus) => Promise<void>): void {
    this.live.set(id, { signal: handle.signal, recorded: handle.exited.then(onExit) });
  }

  ended(id: string): void {
    this.live.delete(id);
  }

  running(id: string): boolean {
    return this.live.has(id);
  }

  /** Signals PID 1 if it runs; false if it does not. ESRCH (it just ended: its exit is on its way) counts as sent. */
  signal(id: string, sig: number): boolean {
    const live = this.live.get(id);
    if (!live) return false;
    try {
      live.signal(sig);
    } catch {
      // ESRCH: it ended between our check and the signal.
    }
    return true;
  }

  /** Resolves once the running PID 1's exit is recorded (at once if none runs). */
  async recorded(id: string): Promise<void> {
    await this.live.get(id)?.recorded;
  }

  /** Tracks a launch until it settles. */
  launched(id: string, p: Promise<void>): Promise<void> {
    this.launching.set(id, p);
    return p.finally(() => {
      if (this.launching.get(id) === p) this.launching.delete(id);
    });
  }

  isLaunching(id: string): boolean {
    return this.launching.has(id);
  }

  /** Resolves once no launch of `id` is in flight. */
  async settled(id: string): Promise<void> {
    await this.launching.get(id);
  }

  /** Every launch in flight (the stray reaper waits for them all). */
  inFlight(): Promise<void>[] {
    return [...this.launching.values()];
  }

  restartAfter(id: string, ms: number, fire: () => void): void {
    this.restarts.set(id, setTimeout(() => {
      this.restarts.delete(id);
      fire();
    }, ms));
  }

  cancelRestart(id: string): void {
    clearTimeout(this.restarts.get(id));
    this.restarts.delete(id);
  }

  cancelAllRestarts(): void {
    for (const t of this.restarts.values()) clearTimeout(t);
    this.restarts.clear();
  }
}
