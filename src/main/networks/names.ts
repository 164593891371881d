// The names each network's DNS server answers: its running containers, by name and alias, kept
// in memory only (a restarted skiffd rebuilds it from the containers it adopts). A name is
// indexed, so an answer costs a map lookup, not a walk over every container of a large network.

interface Entry { address: string; names: string[] }

export class NameTable {
  /** by network: containers → their address and names */
  private readonly byNetwork = new Map<string, Map<string, Entry>>();
  /** by network: lower-case name → the containers answering to it */
  private readonly index = new Map<string, Map<string, Set<string>>>();
  /** by network: address → the container holding it (who is asking) */
  private readonly byAddress = new Map<string, Map<string, string>>();
  private rotate = 0;

  /** A container runs on `network`: its names (lower-cased) answer with `address`. */
  up(network: string, container: string, address: string, names: readonly string[]): void {
    this.downOn(network, container);
    const entry = { address, names: [...new Set(names.map((x) => x.toLowerCase()))] };
    const table = this.byNetwork.get(network) ?? new Map<string, Entry>();
    this.byNetwork.set(network, table);
    table.set(container, entry);
    const addresses = this.byAddress.get(network) ?? new Map<string, string>();
    this.byAddress.set(network, addresses);
    addresses.set(address, container);
    const index = this.index.get(network) ?? new Map<string, Set<string>>();
    this.index.set(network, index);
    for (const name of entry.names) {
      const holders = index.get(name) ?? new Set<string>();
      index.set(name, holders);
      holders.add(container);
    }
  }

  /** The container's names leave `network`'s answers. */
  downOn(network: string, container: string): void {
    const entry = this.byNetwork.get(network)?.get(container);
    if (!entry) return;
    this.byNetwork.get(network)!.delete(container);
    this.byAddress.get(network)!.delete(entry.address);
    const index = this.index.get(network)!;
    for (const name of entry.names) {
      const holders = index.get(name);
      holders?.delete(container);
      if (holders?.size === 0) index.delete(name);
    }
  }

  /** The container's names leave every network's answers (it stopped). */
  down(container: string): void {
    for (const network of this.byNetwork.keys()) this.downOn(network, container);
  }

  dropNetwork(network: string): void {
    this.byNetwork.delete(network);
    this.index.delete(network);
    this.byAddress.delete(network);
  }

  /** A running container's address and names on `network`, if it is there. */
  entry(network: string, container: string): Readonly<Entry> | undefined {
    return this.byNetwork.get(network)?.get(container);
  }

  /** The running container that holds `address` on `network`, if any. */
  holder(network: string, address: string): string | undefined {
    return this.byAddress.get(network)?.get(address);
  }

  /**
   * The addresses answering to `name` (lower case) on `networks`, the first network's first;
   * rotated one further at each answer, so a service's replicas are answered round-robin.
   */
  find(networks: readonly string[], name: string): string[] {
    const hits: string[] = [];
    for (const network of networks) {
      for (const container of this.index.get(network)?.get(name) ?? []) hits.push(this.byNetwork.get(network)!.get(container)!.address);
    }
    if (hits.length < 2) return hits;
    const k = this.rotate++ % hits.length;
    return [...hits.slice(k), ...hits.slice(0, k)];
  }
}
