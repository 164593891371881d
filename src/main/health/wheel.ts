// One timer for every health probe skiffd schedules: a hashed timer wheel.
//
//   slot = due tick mod SLOTS        tick = TICK_MS of the monotonic clock
//   ┌───┬───┬───┬───┬─────┬───┐
//   │ 0 │ 1 │ 2 │ 3 │ ... │N-1│     each tick visits the slots since the last one and fires
//   └───┴───┴───┴───┴─────┴───┘     the entries there whose due tick has come (a later round's
//                                    entries in the same slot wait for their round)
//
// A timer per container (a thousand setTimeouts with one interval, armed together) fires in
// bursts and costs a timer object each; here one unref'd interval runs while anything is
// scheduled, each tick costs the entries in the slots it passes, and a late tick (a busy
// event loop) catches up with every slot it missed, firing each due entry once.

export const TICK_MS = 50;
export const SLOTS = 512;

interface Entry {
  key: string;
  due: number;
  fire: () => void;
}

export class TimerWheel {
  private readonly slots: Set<Entry>[] = Array.from({ length: SLOTS }, () => new Set<Entry>());
  private readonly byKey = new Map<string, Entry>();
  private readonly t0: number;
  /** the last tick whose slot has been visited */
  private cursor: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.t0 = now();
    this.cursor = 0;
  }

  get size(): number {
    return this.byKey.size;
  }

  private currentTick(): number {
    return Math.floor((this.now() - this.t0) / TICK_MS);
  }

  /** Calls `fire` once, `delayMs` from now (to the tick); replaces what `key` had scheduled. */
  schedule(key: string, delayMs: number, fire: () => void): void {
    this.cancel(key);
    const due = Math.max(this.cursor + 1, Math.ceil((this.now() - this.t0 + delayMs) / TICK_MS));
    const e: Entry = { key, due, fire };
    this.byKey.set(key, e);
    this.slots[due % SLOTS]!.add(e);
    if (this.timer === null) {
      this.timer = setInterval(() => this.advance(), TICK_MS);
      // Scheduled probes never keep skiffd alive on their own.
      this.timer.unref();
    }
  }

  cancel(key: string): void {
    const e = this.byKey.get(key);
    if (!e) return;
    this.byKey.delete(key);
    this.slots[e.due % SLOTS]!.delete(e);
  }

  /** Fires everything due by now. Called by the interval; public so a test can drive a fake clock. */
  advance(): void {
    const now = this.currentTick();
    // Behind by more than a revolution: one pass over every slot finds every due entry.
    const from = Math.max(this.cursor + 1, now - SLOTS + 1);
    const due: Entry[] = [];
    for (let t = from; t <= now; t++) {
      for (const e of this.slots[t % SLOTS]!) if (e.due <= now) due.push(e);
    }
    this.cursor = Math.max(this.cursor, now);
    for (const e of due) {
      // An earlier entry's `fire` may have cancelled or replaced this one.
      if (this.byKey.get(e.key) !== e) continue;
      // Removed before it fires, so a `fire` that schedules its key again is not undone.
      this.byKey.delete(e.key);
      this.slots[e.due % SLOTS]!.delete(e);
      e.fire();
    }
    if (this.byKey.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.byKey.clear();
    for (const s of this.slots) s.clear();
  }
}
