// skiffd's bridge networks: create, list, remove; each container's address (allocated at create,
// on disk before the container exists, released at rm); the nftables table written whole after
// every change; a DNS server per network; published ports. The supervisor calls the hooks
// (attach, launch, running, stopped, detach); the HTTP routes call the rest.
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import type { ContainerSpec } from '../../spec/container.js';
import { NAME_PATTERN } from '../../spec/container.js';
import { AddressError, Ipv4, Subnet } from '../../net/ipv4.js';
import { ensureBridge, linkIndex, removeLink } from '../../net/bridge.js';
import type { NetAttachment } from '../../net/container-plan.js';
import type { EndpointInfo } from '../docker/network-shape.js';
import { DnsServer, upstreamsFrom } from '../../net/dns.js';
import { applyRuleset, removeRuleset, type NftPort } from '../../net/nft.js';
import { Conflict, InvalidArgument, NotFound, Unavailable } from '../lifecycle/errors.js';
import { log } from '../log.js';
import { hostsText, resolvText, writeEtcFiles } from './files.js';
import { PortPublisher } from './ports.js';
import { NetworkStore, type NetworkRecord } from './store.js';

export const DEFAULT_NETWORK = 'skiff0';
/** Docker's name for the default network: accepted wherever a network is named. */
export const DOCKER_DEFAULT = 'bridge';

export interface NetworkOptions {
  /** the default network's subnet (default 10.88.0.0/16) */
  defaultSubnet?: string;
  /** upstream resolvers for names skiffd does not know (default /etc/resolv.conf) */
  resolvConf?: string;
}

export interface CreateRequest { name: string; subnet?: string; gateway?: string; internal?: boolean; labels?: Record<string, string> }

/** What the supervisor needs of a container for its network: no more than this. */
export interface Attached { id: string; name: string; spec: ContainerSpec }

export class NetworkManager {
  private readonly nets = new Map<string, NetworkRecord>();
  private readonly dns = new Map<string, DnsServer>();
  /** running containers, by network: names (and aliases) → addresses */
  private readonly live = new Map<string, Map<string, { address: string; names: string[] }>>();
  private readonly ports = new PortPublisher();
  private readonly upstreams: string[];
  private rotate = 0;

  constructor(private readonly store: NetworkStore, private readonly opts: NetworkOptions = {}) {
    this.upstreams = upstreamsFrom(opts.resolvConf ?? '/etc/resolv.conf');
  }

  // ── networks ──
  list(): NetworkRecord[] {
    return [...this.nets.values()];
  }

  /** By name, Docker's `bridge`, full id, or unambiguous id prefix. */
  get(ref: string): NetworkRecord {
    const name = ref === DOCKER_DEFAULT ? DEFAULT_NETWORK : ref;
    const byName = this.nets.get(name);
    if (byName) return byName;
    const hits = /^[0-9a-f]{3,64}$/.test(ref) ? this.list().filter((n) => n.id.startsWith(ref)) : [];
    if (hits.length === 1) return hits[0]!;
    throw new NotFound(`network ${ref} not found`);
  }

  async create(req: CreateRequest): Promise<NetworkRecord> {
    if (!NAME_PATTERN.test(req.name)) throw new InvalidArgument(`network name ${JSON.stringify(req.name)} must match [A-Za-z0-9][A-Za-z0-9_.-]{0,62}`, 'Name');
    if (['none', 'host', DOCKER_DEFAULT].includes(req.name)) throw new Conflict(`network name ${req.name} is reserved`);
    if (this.nets.has(req.name)) throw new Conflict(`network with name ${req.name} already exists`);
    const subnet = this.parseSubnet(req.subnet ?? this.freeSubnet(), 'subnet');
    let gateway: Ipv4;
    try {
      gateway = req.gateway === undefined ? subnet.base.plus(1) : Ipv4.parse(req.gateway, 'gateway');
    } catch (err) {
      throw new InvalidArgument((err as Error).message, 'Gateway');
    }
    if (!subnet.isHost(gateway)) throw new InvalidArgument(`gateway ${gateway.toString()} is not a host address of subnet ${subnet.toString()}`, 'Gateway');
    const clash = this.list().find((n) => Subnet.parse(n.subnet).overlaps(subnet));
    if (clash) throw new Conflict(`subnet ${subnet.toString()} overlaps subnet ${clash.subnet} of network ${clash.name}`);
    const id = randomBytes(32).toString('hex');
    const n: NetworkRecord = {
      id, name: req.name, bridge: req.name === DEFAULT_NETWORK ? DEFAULT_NETWORK : `sk-${id.slice(0, 12)}`,
      subnet: subnet.toString(), gateway: gateway.toString(), internal: req.internal ?? false,
      created: new Date().toISOString(), labels: req.labels ?? {}, endpoints: {},
    };
    try {
      ensureBridge(n.bridge, gateway, subnet);
      this.nets.set(n.name, n);
      this.applyRules();
      await this.startDns(n);
      this.store.save(n);
    } catch (err) {
      // Nothing of a network that could not be made is left: no bridge, no rule, no file.
      this.nets.delete(n.name);
      await this.dns.get(n.name)?.close();
      this.dns.delete(n.name);
      try { removeLink(n.bridge); this.applyRules(); } catch { /* the first error is the one to report */ }
      throw new Unavailable(`create network ${n.name}: ${(err as Error).message}`);
    }
    log('info', 'network created', { name: n.name, subnet: n.subnet, bridge: n.bridge });
    return n;
  }

  async remove(ref: string): Promise<void> {
    const n = this.get(ref);
    const attached = Object.keys(n.endpoints);
    if (attached.length > 0) throw new Conflict(`network ${n.name} has containers attached: ${attached.sort().join(', ')}`);
    await this.dns.get(n.name)?.close();
    this.dns.delete(n.name);
    this.nets.delete(n.name);
    this.live.delete(n.name);
    removeLink(n.bridge);
    this.applyRules();
    this.store.remove(n.name);
  }

  private parseSubnet(text: string, field: string): Subnet {
    try {
      return Subnet.parse(text, field);
    } catch (err) {
      if (err instanceof AddressError) throw new InvalidArgument(err.message, 'Subnet');
      throw err;
    }
  }

  /** A /24 in 10.89.0.0/16 that no network has: a network created without --subnet. */
  private freeSubnet(): string {
    const taken = this.list().map((n) => Subnet.parse(n.subnet));
    for (let i = 0; i < 256; i++) {
      const s = Subnet.parse(`10.89.${i}.0/24`);
      if (!taken.some((t) => t.overlaps(s))) return s.toString();
    }
    throw new Unavailable('no free /24 left in 10.89.0.0/16: give the network a --subnet');
  }

  private async ensureDefault(): Promise<NetworkRecord> {
    return this.nets.get(DEFAULT_NETWORK) ?? this.create({ name: DEFAULT_NETWORK, subnet: this.opts.defaultSubnet ?? '10.88.0.0/16' });
  }

  // ── restart ──
  /** Reloads every network (bridges kept or re-made, DNS up, rules written once) and re-publishes ports. */
  async restore(containers: readonly Attached[]): Promise<void> {
    for (const n of this.store.loadAll((f, err) => log('warn', 'unreadable network', { file: f, error: err.message }))) this.nets.set(n.name, n);
    const byName = new Map(containers.map((c) => [c.name, c]));
    for (const n of this.nets.values()) {
      // An endpoint whose container is gone (removed while skiffd was down) frees its address.
      let changed = false;
      for (const name of Object.keys(n.endpoints)) {
        if (!byName.has(name)) { delete n.endpoints[name]; changed = true; }
      }
      if (changed) this.store.save(n);
      ensureBridge(n.bridge, Ipv4.parse(n.gateway), Subnet.parse(n.subnet));
      await this.startDns(n);
    }
    // A skiffd with no network leaves the ruleset alone: it never even runs nft (in the host's
    // namespace, skiff's table is made with the first network and removed with the last).
    if (this.nets.size > 0) this.applyRules();
    for (const c of containers) {
      const ep = this.endpoint(c.spec);
      if (ep && c.spec.ports.length > 0) {
        await this.ports.publish(c.name, c.spec.ports, () => ep.address).catch((err: Error) => log('warn', 'could not re-publish ports', { name: c.name, error: err.message }));
      }
    }
  }

  // ── supervisor hooks ──
  /**
   * At create: the network exists (the default one is made on first use), an address is
   * allocated and on disk, the ports are bound. On any failure nothing is left.
   */
  async attach(c: Attached): Promise<void> {
    if (c.spec.network === 'none' || c.spec.network === 'host') return;
    const n = c.spec.network === DEFAULT_NETWORK || c.spec.network === DOCKER_DEFAULT ? await this.ensureDefault() : this.get(c.spec.network);
    if (n.endpoints[c.name]) throw new Conflict(`container ${c.name} already has an address on network ${n.name}`);
    const address = this.allocate(n);
    n.endpoints[c.name] = { id: c.id, address: address.toString(), ports: c.spec.ports };
    this.store.save(n);
    try {
      await this.ports.publish(c.name, c.spec.ports, () => address.toString());
      if (c.spec.ports.length > 0) this.applyRules();
    } catch (err) {
      delete n.endpoints[c.name];
      this.store.save(n);
      throw err;
    }
  }

  /** The lowest host address of the subnet that neither the gateway nor a container holds. */
  private allocate(n: NetworkRecord): Ipv4 {
    const subnet = Subnet.parse(n.subnet);
    const taken = new Set([n.gateway, ...Object.values(n.endpoints).map((e) => e.address)]);
    for (let k = 1; k < subnet.size - 1; k++) {
      const a = subnet.base.plus(k);
      if (!taken.has(a.toString())) return a;
    }
    throw new Unavailable(`network ${n.name}: no free address left in ${n.subnet}`);
  }

  endpoint(spec: ContainerSpec): { network: NetworkRecord; address: string; id: string } | null {
    if (spec.network === 'none' || spec.network === 'host') return null;
    const n = this.nets.get(spec.network === DOCKER_DEFAULT ? DEFAULT_NETWORK : spec.network);
    const ep = n?.endpoints[spec.name];
    return n && ep ? { network: n, address: ep.address, id: ep.id } : null;
  }

  /** The container's endpoint as Docker's inspect shows it. */
  endpointInfo(spec: ContainerSpec): EndpointInfo | null {
    const ep = this.endpoint(spec);
    if (!ep) return null;
    return {
      network: ep.network.name === DEFAULT_NETWORK ? DOCKER_DEFAULT : ep.network.name, networkId: ep.network.id, endpointId: ep.id,
      address: ep.address, gateway: ep.network.gateway, prefix: Subnet.parse(ep.network.subnet).prefix, mac: Ipv4.parse(ep.address).mac(),
    };
  }

  /** The start request's attachment: the bridge's current index, the address, the files written now. */
  launch(c: Attached, stateDir: string): NetAttachment | undefined {
    const ep = this.endpoint(c.spec);
    if (!ep) {
      if (c.spec.network === 'none' || c.spec.network === 'host') return undefined;
      throw new NotFound(`network ${c.spec.network} not found (container ${c.name} has no address on it)`);
    }
    const n = ep.network;
    const subnet = Subnet.parse(n.subnet);
    // The bridge outlives skiffd but not a reboot of the namespace: made again if it went.
    const bridgeIndex = linkIndex(n.bridge) ?? ensureBridge(n.bridge, Ipv4.parse(n.gateway), subnet);
    const files = writeEtcFiles(stateDir, hostsText(ep.address, [c.spec.hostname, c.name, ...c.spec.networkAliases]), resolvText(c.spec.dns ?? [n.gateway]));
    return {
      // A name per start: the last run's veth goes with its namespace, which the kernel frees a
      // little after PID 1 exits, so a quick restart reusing the name could meet EEXIST.
      network: n.name, bridge: n.bridge, bridgeIndex, hostIfname: `sv${ep.id.slice(0, 8)}${randomBytes(2).toString('hex')}`, address: ep.address, prefix: subnet.prefix,
      gateway: n.internal ? null : n.gateway, mac: Ipv4.parse(ep.address).mac(), ...files,
    };
  }

  /** PID 1 exec'd: its names resolve. */
  running(c: Attached): void {
    const ep = this.endpoint(c.spec);
    if (!ep) return;
    const table = this.live.get(ep.network.name) ?? new Map<string, { address: string; names: string[] }>();
    this.live.set(ep.network.name, table);
    table.set(c.name, { address: ep.address, names: [c.name, ...c.spec.networkAliases].map((x) => x.toLowerCase()) });
  }

  /** PID 1 exited: its names leave the DNS at once (answers carry TTL 0). */
  stopped(c: Attached): void {
    const ep = this.endpoint(c.spec);
    if (ep) this.live.get(ep.network.name)?.delete(c.name);
  }

  /** At rm: the address goes back to the network, the ports and their rules go. */
  async detach(c: Attached): Promise<void> {
    this.stopped(c);
    const ep = this.endpoint(c.spec);
    if (!ep) return;
    delete ep.network.endpoints[c.name];
    this.store.save(ep.network);
    await this.ports.release(c.spec.ports);
    if (c.spec.ports.length > 0) this.applyRules();
  }

  // ── DNS and rules ──
  private lookup(network: string, name: string): string[] | null {
    const table = this.live.get(network);
    const n = this.nets.get(network);
    if (!n) return null;
    const hits = [...(table?.values() ?? [])].filter((e) => e.names.includes(name)).map((e) => e.address);
    const known = hits.length > 0 || Object.keys(n.endpoints).some((k) => k.toLowerCase() === name);
    if (!known) return null;
    // Round-robin over the replicas of a service: each answer starts one further along.
    const k = hits.length > 0 ? this.rotate++ % hits.length : 0;
    return [...hits.slice(k), ...hits.slice(0, k)];
  }

  private async startDns(n: NetworkRecord): Promise<void> {
    if (this.dns.has(n.name)) return;
    this.dns.set(n.name, await DnsServer.listen(n.gateway, 53, (name) => this.lookup(n.name, name), this.upstreams));
  }

  /** Writes the whole table from the state now in memory; with no network left, removes it. */
  private applyRules(): void {
    const nets = this.list();
    if (nets.length === 0) return removeRuleset();
    const ports: NftPort[] = [];
    for (const n of nets) {
      for (const ep of Object.values(n.endpoints)) {
        for (const p of ep.ports ?? []) ports.push({ hostIp: p.hostIp, hostPort: p.hostPort, proto: p.proto, address: ep.address, containerPort: p.containerPort });
      }
    }
    // Forwarding between interfaces is what a bridge network's egress needs; internal ones alone do not.
    if (nets.some((n) => !n.internal) && existsSync('/proc/sys/net/ipv4/ip_forward')) writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    applyRuleset(nets.map((n) => ({ bridge: n.bridge, subnet: n.subnet, internal: n.internal })), ports);
  }

  async close(): Promise<void> {
    await Promise.all([...this.dns.values()].map((d) => d.close()));
    this.dns.clear();
    await this.ports.closeAll();
  }
}
