// Networks on disk: one JSON file per network under `<state>/.skiffd/networks/`, written
// atomically (temp file, fsync, rename). An address must be on disk before the container that
// holds it exists, so that a skiffd killed at any moment never hands the same address out twice:
// save() resolves once a version holding everything in memory when it was called is durable.
//
// Writes go through the thread pool, not the event loop: an fsync is a millisecond or more of
// waiting, and there are two per container (its create and its rm). They are coalesced per
// network, as state.json writes are: while one is in flight only the newest later version is
// written, and every caller waiting for a version in between gets that newer one, which holds
// its change too (the record in memory only grows by the caller's change before it saves).
// Only a write that hands something out (an address) must be durable before its caller goes
// on; one that gives something back may be lost in a crash, because a restarted skiffd drops
// the endpoints of containers that are gone. Those skip the fsync (about a millisecond of CPU
// each on this machine), unless a durable one is coalesced with them.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PortSpec } from '../../spec/container.js';

export interface Endpoint {
  /** the container's id: its veth's host end is named after it */
  id: string;
  address: string;
  /** its published ports: the rules and proxies a restarted skiffd makes again */
  ports: PortSpec[];
  /** a network added by `network connect`: the container's interface on it (eth1, …); absent on its own network (eth0) */
  ifname?: string;
  /** its names on a network added by connect, besides its own (on its own network they are the spec's networkAliases) */
  aliases?: string[];
}

export interface NetworkRecord {
  id: string;
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  created: string;
  labels: Record<string, string>;
  /** by container name: the address each attached container holds until it is removed */
  endpoints: Record<string, Endpoint>;
}

interface Queued { text: string; durable: boolean; done: Promise<void>; resolve: () => void; reject: (err: Error) => void }

/** One network's writes: the one in flight, and the newest version waiting for it. */
interface Slot { inFlight: Promise<void> | null; queued: Queued | null }

export class NetworkStore {
  private readonly slots = new Map<string, Slot>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private path(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  loadAll(onError: (file: string, err: Error) => void): NetworkRecord[] {
    const out: NetworkRecord[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as NetworkRecord);
      } catch (err) {
        onError(f, err as Error);
      }
    }
    return out;
  }

  /**
   * Resolves once the record as it is now (or a later version of it) is written: fsync'd unless
   * `durable` is false (a release, which a restart finds again if it is lost).
   */
  save(n: NetworkRecord, durable = true): Promise<void> {
    const text = `${JSON.stringify(n, null, 2)}\n`;
    const slot = this.slots.get(n.name) ?? { inFlight: null, queued: null };
    this.slots.set(n.name, slot);
    if (slot.queued) {
      slot.queued.text = text;
      slot.queued.durable ||= durable;
      return slot.queued.done;
    }
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    slot.queued = { text, durable, done, resolve, reject };
    if (!slot.inFlight) this.pump(n.name, slot);
    return done;
  }

  private pump(name: string, slot: Slot): void {
    const q = slot.queued;
    if (!q) {
      this.slots.delete(name);
      return;
    }
    slot.queued = null;
    slot.inFlight = this.write(name, q.text, q.durable).then(q.resolve, (err: Error) => q.reject(err)).finally(() => {
      slot.inFlight = null;
      this.pump(name, slot);
    });
  }

  private async write(name: string, text: string, durable: boolean): Promise<void> {
    const path = this.path(name);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }

  /** Removes a network's file once its writes in flight have landed (none may recreate it after). */
  async remove(name: string): Promise<void> {
    for (let slot = this.slots.get(name); slot; slot = this.slots.get(name)) {
      await Promise.allSettled([slot.inFlight, slot.queued?.done]);
    }
    await rm(this.path(name), { force: true });
  }
}
