// Networks on disk: one JSON file per network under `<state>/.skiffd/networks/`, written
// atomically (temp file, fsync, rename), synchronously: a network changes rarely, and an
// address must be on disk before the container that holds it exists, so that a skiffd killed
// at any moment never hands the same address out twice.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
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

export class NetworkStore {
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

  save(n: NetworkRecord): void {
    const path = this.path(n.name);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(n, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  remove(name: string): void {
    rmSync(this.path(name), { force: true });
  }
}
