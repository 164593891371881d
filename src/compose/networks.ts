// A fleet's networks, as Compose writes them: top-level `networks:` (each becomes the bridge
// network `<fleet>_<key>`, with `internal` and `ipam.config[0].subnet/gateway`), and per service
// `networks:` (one network, as a list or a map with `aliases`) and `ports:`. A fleet that uses
// any of them puts every service that names no network on `<fleet>_default`, and each replica
// answers to its service's name there (round-robin over the running replicas). A fleet that
// uses none keeps skiff's default, network none, as before networks existed.
import type { PortSpec } from '../spec/container.js';
import type { YMap, YVal } from './yaml-view.js';

export interface FleetNetwork {
  /** `<fleet>_<key>` */
  name: string;
  subnet?: string;
  gateway?: string;
  internal: boolean;
}

/** What a service said about networks, before the fleet's name is known. */
export interface ServiceNetworking {
  /** the key of the network it joins, and where it was written */
  network: { key: string; aliases: string[]; at: YVal } | null;
  ports: PortSpec[];
  portsAt: YVal | null;
}

const NETWORK_KEYS = ['driver', 'internal', 'ipam', 'labels', 'name', 'external', 'attachable', 'enable_ipv6', 'driver_opts'];

export function readTopNetworks(fleet: string, v: YVal | undefined): Map<string, FleetNetwork> {
  const out = new Map<string, FleetNetwork>();
  if (!v) return out;
  for (const e of v.map().entries) {
    const n: FleetNetwork = { name: `${fleet}_${e.key}`, internal: false };
    out.set(e.key, n);
    if (e.value.isNull) continue;
    const m = e.value.map();
    for (const { key, keyVal } of m.entries) {
      if (!NETWORK_KEYS.includes(key)) keyVal.fail(`unknown key (known here: driver, internal, ipam)`);
      if (!['driver', 'internal', 'ipam', 'labels'].includes(key)) keyVal.fail('not supported by skiff yet (a fleet\'s networks are bridges it makes: driver, internal, ipam)');
    }
    const driver = m.get('driver');
    if (driver && driver.string('bridge') !== 'bridge') driver.fail(`driver ${driver.describe()} is not supported by skiff (bridge is)`);
    const internal = m.get('internal');
    if (internal) n.internal = internal.boolean();
    const config = m.get('ipam')?.map().get('config')?.list() ?? [];
    if (config.length > 1) config[1]!.fail('skiff takes one subnet per network');
    const c = config[0]?.map();
    const subnet = c?.get('subnet');
    const gateway = c?.get('gateway');
    if (subnet) n.subnet = subnet.string('a subnet such as 198.18.3.0/24');
    if (gateway) n.gateway = gateway.string('an IPv4 address');
  }
  return out;
}

/** `8080:80`, `127.0.0.1:8080:80`, `8080:80/udp`; a bare container port would need a random host port, which skiff does not pick. */
function readPort(v: YVal): PortSpec {
  const text = v.text('HOST:CONTAINER');
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(text);
  if (!m) return v.fail(`expected [IP:]HOSTPORT:CONTAINERPORT[/udp], got ${v.describe()}`);
  const port = (s: string, what: string): number => {
    const n = Number(s);
    if (n < 1 || n > 65535) v.fail(`${what} ${s} is not a port from 1 to 65535`);
    return n;
  };
  return { hostIp: m[1] ?? '0.0.0.0', hostPort: port(m[2]!, 'host port'), containerPort: port(m[3]!, 'container port'), proto: (m[4] ?? 'tcp') as 'tcp' | 'udp' };
}

export function readServiceNetworking(m: YMap): ServiceNetworking {
  const out: ServiceNetworking = { network: null, ports: [], portsAt: null };
  const nets = m.get('networks');
  if (nets) {
    const named: { key: string; aliases: string[]; at: YVal }[] = [];
    if (nets.describe() === 'a list') {
      for (const item of nets.list()) named.push({ key: item.string('a network name'), aliases: [], at: item });
    } else {
      for (const e of nets.map().entries) {
        const aliases = e.value.isNull ? [] : (e.value.map().get('aliases')?.list() ?? []).map((a) => a.string('a name'));
        named.push({ key: e.key, aliases, at: e.keyVal });
      }
    }
    if (named.length > 1) named[1]!.at.fail('a skiff container is on one network: list one');
    out.network = named[0] ?? null;
  }
  const ports = m.get('ports');
  if (ports) {
    out.portsAt = ports;
    out.ports = ports.list().map(readPort);
  }
  return out;
}

/** What a service's spec template needs: its network's full name, its service name as an alias, its ports. */
interface Resolvable {
  name: string;
  at: YVal;
  networking: ServiceNetworking;
  template: { network?: string; networkAliases?: string[]; ports?: PortSpec[] };
}

/**
 * Puts each service on its network (sets its template's network, aliases and ports) and returns
 * the networks the fleet uses: the declared ones, and `<fleet>_default` if any service joins it.
 */
export function resolveNetworks(fleet: string, top: YVal | undefined, services: readonly Resolvable[]): FleetNetwork[] {
  const declared = readTopNetworks(fleet, top);
  const uses = declared.size > 0 || services.some((s) => s.networking.network !== null || s.networking.ports.length > 0);
  if (!uses) return [];
  const used = new Map<string, FleetNetwork>();
  for (const s of services) {
    const n = s.networking.network;
    if (n === null && s.template.network !== undefined) {
      if (s.networking.ports.length > 0) s.networking.portsAt!.fail(`ports need a bridge network, not network_mode ${s.template.network}`);
      continue;
    }
    const key = n?.key ?? 'default';
    let net = declared.get(key);
    if (!net && key === 'default') net = { name: `${fleet}_default`, internal: false };
    if (!net) return n!.at.fail(`names no network of the fleet: ${JSON.stringify(key)} (declare it under the top-level networks:)`);
    used.set(key, net);
    s.template.network = net.name;
    s.template.networkAliases = [s.name, ...(n?.aliases ?? [])];
    if (s.networking.ports.length > 0) s.template.ports = s.networking.ports;
  }
  // Declared but unused networks are made too, as Compose makes them.
  for (const [key, net] of declared) used.set(key, net);
  return [...used.values()];
}
