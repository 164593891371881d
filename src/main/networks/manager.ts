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
import { addInterface, removeInterface, type InterfaceAttachment } from '../../net/container-link.js';
import { close, pidfdOpen } from '../../sys/libc.js';
import { liveStartTime } from '../../sys/proc.js';
import type { EndpointInfo } from '../docker/network-shape.js';
import { DnsServer, upstreamsFrom } from '../../net/dns.js';
import { applyRuleset, removeRuleset, type NftPort } from '../../net/nft.js';
import { Conflict, InvalidArgument, NotFound, Unavailable } from '../lifecycle/errors.js';
import { log } from '../log.js';
import { EtcWriter, hostsText, resolvText } from './files.js';
import { NameTable } from './names.js';
import { PortPublisher } from './ports.js';
import { NetworkStore, type Endpoint, type NetworkRecord } from './store.js';

export const DEFAULT_NETWORK = 'skiff0';
/** Docker's name for the default network: accepted wherever a network is named. */
export const DOCKER_DEFAULT = 'bridge';

/**
 * The most containers one network holds. A Linux bridge numbers its ports in 10 bits, port 0
 * reserved (BR_MAX_PORTS, net/bridge/br_private.h), so a 1024th veth fails with EXFULL. skiff
 * refuses the container that would need it at create, with a message saying why, rather than
 * spilling over to a second bridge: a second bridge joined by a veth would be one more port on
 * each side, one more hop for the isolation rules to know of, and a failure mode of its own,
 * for a size no single host's network should need. Counted at create (every endpoint holds an
 * address and, when it runs, a port), so a start never meets EXFULL from skiff's own veths.
 */
export const MAX_ENDPOINTS = 1023;

export interface NetworkOptions {
  /** the default network's subnet (default 10.88.0.0/16) */
  defaultSubnet?: string;
  /** upstream resolvers for names skiffd does not know (default /etc/resolv.conf) */
  resolvConf?: string;
}

export interface CreateRequest { name: string; subnet?: string; gateway?: string; internal?: boolean; labels?: Record<string, string> }

/** What the supervisor needs of a container for its network: no more than this. */
export interface Attached { id: string; name: string; spec: ContainerSpec }

/** A container as `network connect` and `disconnect` see it: its PID 1 while it runs. */
export interface Connectable extends Attached {
  /** a start under way: its launch may or may not have taken the networks yet */
  starting: boolean;
  /** running: PID 1 and its /proc start time (what tells it from a recycled pid); else null */
  live: { pid: number; startTime: number } | null;
}

const starting = (c: Connectable): Conflict => new Conflict(`container ${c.name} is starting: connect or disconnect it once it runs`);

/** One network a container has an address on, and its endpoint there. */
interface Membership { network: NetworkRecord; ep: Endpoint }

/** eth1 < eth2 < eth10: interfaces in the order they were added. */
const ifnameOrder = (a: Membership, b: Membership): number => Number(a.ep.ifname!.slice(3)) - Number(b.ep.ifname!.slice(3));

export class NetworkManager {
  private readonly nets = new Map<string, NetworkRecord>();
  private readonly dns = new Map<string, DnsServer>();
  /** what each network's DNS answers: its running containers' names (and aliases) */
  private readonly names = new NameTable();
  private readonly ports = new PortPublisher();
  private readonly etc = new EtcWriter();
  private readonly upstreams: string[];

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
      await this.store.save(n);
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
    this.names.dropNetwork(n.name);
    removeLink(n.bridge);
    this.applyRules();
    await this.store.remove(n.name);
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
      if (changed) await this.store.save(n);
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
    const held = Object.keys(n.endpoints).length;
    if (held >= MAX_ENDPOINTS) {
      throw new Conflict(`network ${n.name} already has ${held} containers, the most one Linux bridge takes (${MAX_ENDPOINTS} ports): put container ${c.name} on another network`);
    }
    const address = this.allocate(n);
    n.endpoints[c.name] = { id: c.id, address: address.toString(), ports: c.spec.ports };
    try {
      await this.store.save(n);
      await this.ports.publish(c.name, c.spec.ports, () => address.toString());
      if (c.spec.ports.length > 0) this.applyRules();
    } catch (err) {
      delete n.endpoints[c.name];
      await this.store.save(n, false).catch(() => undefined); // a release; the first error is the one to report
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

  /** The container's endpoint as Docker's inspect shows it, with those added by connect in `more`. */
  endpointInfo(spec: ContainerSpec): EndpointInfo | null {
    const ep = this.endpoint(spec);
    if (!ep) return null;
    const info = (n: NetworkRecord, e: Endpoint): EndpointInfo => ({
      network: n.name === DEFAULT_NETWORK ? DOCKER_DEFAULT : n.name, networkId: n.id, endpointId: e.id,
      address: e.address, gateway: n.gateway, prefix: Subnet.parse(n.subnet).prefix, mac: Ipv4.parse(e.address).mac(),
      ...(e.aliases ? { aliases: e.aliases } : {}),
    });
    const more = this.added(spec.name).map((m) => info(m.network, m.ep));
    return { ...info(ep.network, ep.network.endpoints[spec.name]!), ...(more.length > 0 ? { more } : {}) };
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
    const files = this.etc.write(c.id, stateDir, hostsText(ep.address, [c.spec.hostname, c.name, ...c.spec.networkAliases]), resolvText(c.spec.dns ?? [n.gateway]));
    const more = this.added(c.name).map((m) => this.interfaceOf(c, m));
    return {
      ...(more.length > 0 ? { more } : {}),
      // A name per start: the last run's veth goes with its namespace, which the kernel frees a
      // little after PID 1 exits, so a quick restart reusing the name could meet EEXIST.
      network: n.name, bridge: n.bridge, bridgeIndex, hostIfname: `sv${ep.id.slice(0, 8)}${randomBytes(2).toString('hex')}`, address: ep.address, prefix: subnet.prefix,
      gateway: n.internal ? null : n.gateway, mac: Ipv4.parse(ep.address).mac(), ...files,
    };
  }

  /** The networks `network connect` added to a container, in the order of their interfaces. */
  private added(name: string): Membership[] {
    return this.list().flatMap((n) => {
      const ep = n.endpoints[name];
      return ep?.ifname !== undefined ? [{ network: n, ep }] : [];
    }).sort(ifnameOrder);
  }

  /** Every network a container has an address on: its own, then those added by connect. */
  private memberships(c: Attached): Membership[] {
    const own = this.endpoint(c.spec);
    const first = own ? [{ network: own.network, ep: own.network.endpoints[c.name]! }] : [];
    return [...first, ...this.added(c.name)];
  }

  /** One added network's interface, for a launch plan or a running container. */
  private interfaceOf(c: Attached, m: Membership): InterfaceAttachment {
    const n = m.network;
    const subnet = Subnet.parse(n.subnet);
    return {
      network: n.name, bridge: n.bridge, bridgeIndex: linkIndex(n.bridge) ?? ensureBridge(n.bridge, Ipv4.parse(n.gateway), subnet),
      hostIfname: `sv${c.id.slice(0, 8)}${randomBytes(2).toString('hex')}`, ifname: m.ep.ifname!, address: m.ep.address,
      prefix: subnet.prefix, mac: Ipv4.parse(m.ep.address).mac(),
    };
  }

  private goLive(c: Attached, m: Membership): void {
    const aliases = m.ep.ifname === undefined ? c.spec.networkAliases : m.ep.aliases ?? [];
    this.names.up(m.network.name, c.name, m.ep.address, [c.name, ...aliases]);
  }

  /** PID 1 exec'd: its names resolve, on each of its networks. */
  running(c: Attached): void {
    for (const m of this.memberships(c)) this.goLive(c, m);
  }

  /** PID 1 exited: its names leave the DNS at once (answers carry TTL 0). */
  stopped(c: Attached): void {
    this.names.down(c.name);
  }

  /** At rm: its addresses go back to their networks, the ports and their rules go. */
  async detach(c: Attached): Promise<void> {
    this.stopped(c);
    this.etc.forget(c.id);
    const all = this.memberships(c);
    if (all.length === 0) return;
    // A release lost in a crash is found again at restore (an endpoint whose container is
    // gone): written without an fsync.
    for (const m of all) delete m.network.endpoints[c.name];
    await Promise.all(all.map((m) => this.store.save(m.network, false)));
    await this.ports.release(c.spec.ports);
    if (c.spec.ports.length > 0) this.applyRules();
  }

  /**
   * A rename (inside its synchronous step): the container's endpoints, its DNS names and its
   * ports' holder move to the new name, so its next start finds its address and rm frees it.
   * The files are written after; a crash before they land leaves the old name's endpoint, which
   * the restart drops (no container has that name) and the new name's start then lacks.
   */
  renamed(oldName: string, newName: string): void {
    const moved = this.list().filter((n) => n.endpoints[oldName] !== undefined);
    for (const n of moved) {
      n.endpoints[newName] = n.endpoints[oldName]!;
      delete n.endpoints[oldName];
      const entry = this.names.entry(n.name, oldName);
      if (entry) {
        this.names.downOn(n.name, oldName);
        this.names.up(n.name, newName, entry.address, entry.names.map((x) => (x === oldName.toLowerCase() ? newName : x)));
      }
      this.store.save(n).catch((err: Error) => log('error', 'network file not written after a rename', { network: n.name, error: err.message }));
    }
    this.ports.renamed(oldName, newName);
  }

  // ── network connect / disconnect ──
  /**
   * Adds a network to a container: an address on it at once (on disk first, as at create); a
   * running container also gets the interface now (ethN, through rtnetlink into its namespace
   * by pidfd) and its names in that network's DNS. A stopped one gets the interface at its next
   * start. On any failure nothing is left: no address, no veth.
   */
  async connect(container: () => Connectable, ref: string, aliases: string[]): Promise<void> {
    let c = container();
    if (c.spec.network === 'none' || c.spec.network === 'host') {
      throw new Conflict(`container ${c.name} is on network ${c.spec.network}: only a container on a bridge network can be connected to another`);
    }
    const n = ref === DOCKER_DEFAULT || ref === DEFAULT_NETWORK ? await this.ensureDefault() : this.get(ref);
    // As the endpoint is recorded (no await from here to it): a launch from now on takes it;
    // a run already going lacks it; a start under way may or may not have it, so is refused.
    c = container();
    if (c.starting) throw starting(c);
    if (n.endpoints[c.name]) throw new Conflict(`container ${c.name} is already connected to network ${n.name}`);
    const held = Object.keys(n.endpoints).length;
    if (held >= MAX_ENDPOINTS) {
      throw new Conflict(`network ${n.name} already has ${held} containers, the most one Linux bridge takes (${MAX_ENDPOINTS} ports): cannot connect container ${c.name}`);
    }
    const used = new Set(this.added(c.name).map((m) => m.ep.ifname));
    let k = 1;
    while (used.has(`eth${k}`)) k++;
    const ep: Endpoint = { id: c.id, address: this.allocate(n).toString(), ports: [], ifname: `eth${k}`, ...(aliases.length > 0 ? { aliases } : {}) };
    n.endpoints[c.name] = ep;
    const run = c.live;
    let added = false;
    try {
      await this.store.save(n);
      // Only the run that was going when the endpoint was recorded gets the interface now; if
      // it ended meanwhile, a later run's launch has taken (or will take) the endpoint itself.
      const now = container();
      if (run && now.live?.pid === run.pid && now.live.startTime === run.startTime) {
        this.inContainer(now, run, (pidfd) => addInterface(pidfd, this.interfaceOf(now, { network: n, ep }), now.name));
        added = true;
      }
    } catch (err) {
      delete n.endpoints[c.name];
      await this.store.save(n).catch(() => undefined); // the first error is the one to report
      throw err;
    }
    if (added) this.goLive(c, { network: n, ep });
    log('info', 'network connected', { container: c.name, network: n.name, address: ep.address, ifname: ep.ifname });
  }

  /** Takes a network added by connect away: the interface (if running), the DNS names, the address. */
  async disconnect(container: () => Connectable, ref: string): Promise<void> {
    const c = container();
    if (c.starting) throw starting(c);
    const n = this.get(ref);
    const ep = n.endpoints[c.name];
    if (!ep) throw new NotFound(`container ${c.name} is not connected to network ${n.name}`);
    if (ep.ifname === undefined) {
      throw new Conflict(`container ${c.name} was created on network ${n.name}: skiff disconnects only networks added by connect (remove and create the container to change its own)`);
    }
    if (c.live) this.inContainer(c, c.live, (pidfd) => removeInterface(pidfd, ep.ifname!, n.name, c.name));
    this.names.downOn(n.name, c.name);
    delete n.endpoints[c.name];
    await this.store.save(n);
    log('info', 'network disconnected', { container: c.name, network: n.name });
  }

  /** Runs `use` with a pidfd of the container's PID 1, checked to be that process and not a recycled pid. */
  private inContainer(c: Attached, live: { pid: number; startTime: number }, use: (pidfd: number) => void): void {
    let pidfd: number;
    try {
      pidfd = pidfdOpen(live.pid);
    } catch (err) {
      throw new Conflict(`container ${c.name} is not running any more (pidfd_open ${live.pid}: ${(err as Error).message})`);
    }
    try {
      // Opened first, checked after: if the pid still has PID 1's start time, the pidfd is PID 1's.
      if (liveStartTime(live.pid) !== live.startTime) throw new Conflict(`container ${c.name} is not running any more`);
      use(pidfd);
    } finally {
      close(pidfd);
    }
  }

  // ── DNS and rules ──
  /**
   * A name asked of `network`'s DNS server by `client`: answered from that network and from every
   * other network the asking container is on (a container added to a network by connect asks its
   * first network's server, which its resolv.conf names), that network first.
   */
  private lookup(network: string, name: string, client: string): string[] | null {
    const n = this.nets.get(network);
    if (!n) return null;
    // The asker's other networks matter only when it has some (network connect): most have none.
    let nets = [n];
    if (this.nets.size > 1) {
      const asker = this.names.holder(n.name, client);
      if (asker !== undefined) nets = [n, ...this.list().filter((o) => o !== n && o.endpoints[asker] !== undefined)];
    }
    const hits = this.names.find(nets.map((o) => o.name), name);
    if (hits.length > 0) return hits;
    // A known container that is not running: an empty answer, not a forward that would leak the name.
    return nets.some((o) => Object.keys(o.endpoints).some((k) => k.toLowerCase() === name)) ? [] : null;
  }

  private async startDns(n: NetworkRecord): Promise<void> {
    if (this.dns.has(n.name)) return;
    this.dns.set(n.name, await DnsServer.listen(n.gateway, 53, (name, client) => this.lookup(n.name, name, client), this.upstreams));
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
