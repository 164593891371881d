// skiffd's index of its containers, by name: the one name-keyed map (a rename moves an
// entry; everything else about a container is keyed by its id). Found as Docker finds
// them: by name (with or without the leading "/"), full id, or an unambiguous id prefix.
import { InvalidArgument, NotFound } from './errors.js';
import type { ContainerRecord } from './record.js';

export class Registry {
  private readonly byName = new Map<string, ContainerRecord>();
  /** by full id: a Docker client names a container by the id its create answered, on every request after it */
  private readonly byId = new Map<string, ContainerRecord>();

  list(): ContainerRecord[] {
    return [...this.byName.values()];
  }

  get(ref: string): ContainerRecord {
    const byName = this.byName.get(ref.charCodeAt(0) === 0x2f ? ref.slice(1) : ref);
    if (byName) return byName;
    const byId = ref.length === 64 ? this.byId.get(ref) : undefined;
    if (byId) return byId;
    // A prefix: every id is looked at (only here, not for a name or a full id).
    if (/^[0-9a-f]{3,64}$/.test(ref)) {
      const hits = this.list().filter((r) => r.id.startsWith(ref));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw new InvalidArgument(`container id prefix ${ref} is ambiguous`);
    }
    throw new NotFound(`No such container: ${ref}`);
  }

  /** The record holding this exact name, if any (no id lookup). */
  named(name: string): ContainerRecord | undefined {
    return this.byName.get(name);
  }

  add(r: ContainerRecord): void {
    this.byName.set(r.name, r);
    this.byId.set(r.id, r);
  }

  drop(name: string): void {
    const r = this.byName.get(name);
    this.byName.delete(name);
    if (r !== undefined && this.byId.get(r.id) === r) this.byId.delete(r.id);
  }

  /** The record is known by `to` from now on (the caller has checked that `to` is free). */
  rename(r: ContainerRecord, from: string, to: string): void {
    this.byName.delete(from);
    this.byName.set(to, r);
  }

  runningCount(): number {
    let n = 0;
    for (const r of this.byName.values()) if (r.status === 'running') n++;
    return n;
  }

  /** The PID 1s of the containers that have one. */
  pids(): number[] {
    return this.list().flatMap((r) => (r.pid === null ? [] : [r.pid]));
  }
}
