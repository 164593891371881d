// skiffd's index of its containers, by name: the one name-keyed map (a rename moves an
// entry; everything else about a container is keyed by its id). Found as Docker finds
// them: by name (with or without the leading "/"), full id, or an unambiguous id prefix.
import { InvalidArgument, NotFound } from './errors.js';
import type { ContainerRecord } from './record.js';

export class Registry {
  private readonly byName = new Map<string, ContainerRecord>();

  list(): ContainerRecord[] {
    return [...this.byName.values()];
  }

  get(ref: string): ContainerRecord {
    const byName = this.byName.get(ref.replace(/^\//, ''));
    if (byName) return byName;
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
  }

  drop(name: string): void {
    this.byName.delete(name);
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
