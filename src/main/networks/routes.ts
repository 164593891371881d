// Docker's network API, served by skiffd (the skiff CLI uses the same paths):
//
//   GET    /networks            → 200 [network]
//   GET    /networks/{id}       → 200 network, with Containers (address, MAC) · 404
//   POST   /networks/create     body { Name, Driver?: "bridge", Internal?, IPAM?: { Config: [{ Subnet, Gateway }] }, Labels? }
//                               → 201 { Id, Warning } · 400 a bad value, named · 409 name taken, subnet overlaps
//   DELETE /networks/{id}       → 204 · 404 · 409 containers attached
//   POST   /networks/{id}/connect     body { Container, EndpointConfig?: { Aliases? } } → 200 · 404 · 409 already on it, not a bridge container
//   POST   /networks/{id}/disconnect  body { Container, Force? } → 200 · 404 not on it · 409 its own network
//
// `bridge` is Docker's name for skiff's default network, skiff0: it is shown under that name here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Extensions } from '../http/api.js';
import { send } from '../http/respond.js';
import { InvalidArgument } from '../lifecycle/errors.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import { Ipv4, Subnet } from '../../net/ipv4.js';
import { DEFAULT_NETWORK, DOCKER_DEFAULT, type Connectable, type CreateRequest, type NetworkManager } from './manager.js';
import type { NetworkRecord } from './store.js';

const CREATE_FIELDS = new Set(['Name', 'Driver', 'Internal', 'IPAM', 'Labels', 'CheckDuplicate', 'Attachable', 'Ingress', 'EnableIPv6', 'Options', 'Scope', 'ConfigOnly', 'ConfigFrom']);

/** The Docker name of a network (skiff0 shows as `bridge`). */
export const dockerName = (name: string): string => (name === DEFAULT_NETWORK ? DOCKER_DEFAULT : name);

export function networkView(n: NetworkRecord, withContainers: boolean): Record<string, unknown> {
  const prefix = Subnet.parse(n.subnet).prefix;
  const containers = Object.fromEntries(Object.entries(n.endpoints).map(([name, ep]) => [ep.id, {
    Name: name, EndpointID: ep.id, MacAddress: Ipv4.parse(ep.address).mac(), IPv4Address: `${ep.address}/${prefix}`, IPv6Address: '',
  }]));
  return {
    Name: dockerName(n.name), Id: n.id, Created: n.created, Scope: 'local', Driver: 'bridge', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: withContainers ? containers : {}, Options: { 'com.skiff.bridge': n.bridge }, Labels: n.labels,
  };
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new InvalidArgument(`${field} must be a string, got ${JSON.stringify(v)}`, field);
  return v;
}

/** A create body to a request, every field checked and named. */
export function createRequest(body: unknown): CreateRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidArgument('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!CREATE_FIELDS.has(k)) throw new InvalidArgument(`${k} is not a field of a network create`, k);
  const name = str(b.Name, 'Name');
  if (name === undefined) throw new InvalidArgument('Name is required', 'Name');
  const driver = str(b.Driver, 'Driver') ?? 'bridge';
  if (driver !== 'bridge') throw new InvalidArgument(`Driver ${JSON.stringify(driver)} is not supported by skiff (bridge is)`, 'Driver');
  if (b.EnableIPv6 === true) throw new InvalidArgument('EnableIPv6 is not supported by skiff', 'EnableIPv6');
  if (b.Internal !== undefined && typeof b.Internal !== 'boolean') throw new InvalidArgument(`Internal must be true or false, got ${JSON.stringify(b.Internal)}`, 'Internal');
  const req: CreateRequest = { name, internal: b.Internal === true };
  const ipam = b.IPAM as { Config?: unknown } | undefined | null;
  const configs = ipam?.Config ?? [];
  if (!Array.isArray(configs)) throw new InvalidArgument('IPAM.Config must be a list', 'IPAM.Config');
  if (configs.length > 1) throw new InvalidArgument(`IPAM.Config has ${configs.length} entries: skiff takes one subnet per network`, 'IPAM.Config');
  const c = configs[0] as Record<string, unknown> | undefined;
  if (c) {
    const subnet = str(c.Subnet, 'IPAM.Config[0].Subnet');
    const gateway = str(c.Gateway, 'IPAM.Config[0].Gateway');
    if (gateway !== undefined && subnet === undefined) throw new InvalidArgument('IPAM.Config[0].Gateway needs a Subnet', 'IPAM.Config[0].Gateway');
    if (subnet !== undefined) req.subnet = subnet;
    if (gateway !== undefined) req.gateway = gateway;
  }
  if (b.Labels !== undefined && b.Labels !== null) {
    if (typeof b.Labels !== 'object' || Array.isArray(b.Labels) || Object.values(b.Labels).some((v) => typeof v !== 'string')) {
      throw new InvalidArgument('Labels must be a map of strings', 'Labels');
    }
    req.labels = b.Labels as Record<string, string>;
  }
  return req;
}

const CONNECT_FIELDS = new Set(['Container', 'EndpointConfig', 'Force']);
const ENDPOINT_FIELDS = new Set(['IPAMConfig', 'Links', 'Aliases', 'NetworkID', 'EndpointID', 'Gateway', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway',
  'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'MacAddress', 'DriverOpts', 'DNSNames', 'GwPriority']);

/** A connect or disconnect body: the container named, and (connect) its aliases on the network. */
export function connectRequest(body: unknown): { container: string; aliases: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidArgument('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!CONNECT_FIELDS.has(k)) throw new InvalidArgument(`${k} is not a field of a network connect or disconnect`, k);
  const container = str(b.Container, 'Container');
  if (container === undefined) throw new InvalidArgument('Container is required', 'Container');
  if (b.Force !== undefined && typeof b.Force !== 'boolean') throw new InvalidArgument(`Force must be true or false, got ${JSON.stringify(b.Force)}`, 'Force');
  const ec = (b.EndpointConfig ?? {}) as Record<string, unknown>;
  if (typeof ec !== 'object' || Array.isArray(ec)) throw new InvalidArgument('EndpointConfig must be an object', 'EndpointConfig');
  for (const k of Object.keys(ec)) if (!ENDPOINT_FIELDS.has(k)) throw new InvalidArgument(`EndpointConfig.${k} is not a field of an endpoint`, `EndpointConfig.${k}`);
  // The docker CLI sends every field, empty; a value skiff does not honour is refused, not dropped.
  const ipam = ec.IPAMConfig as Record<string, unknown> | null | undefined;
  for (const [k, v] of Object.entries(ipam ?? {})) {
    if (v !== '' && v !== null && !(Array.isArray(v) && v.length === 0)) throw new InvalidArgument(`EndpointConfig.IPAMConfig.${k} is not supported by skiff (addresses are allocated)`, `EndpointConfig.IPAMConfig.${k}`);
  }
  const aliases = ec.Aliases ?? [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(a))) {
    throw new InvalidArgument(`EndpointConfig.Aliases must be a list of names, got ${JSON.stringify(aliases)}`, 'EndpointConfig.Aliases');
  }
  return { container, aliases: aliases as string[] };
}

export class NetworksApi implements Extensions {
  /** `container`: a container by name or id (throws NotFound), for connect and disconnect */
  constructor(private readonly nets: NetworkManager, private readonly container: (ref: string) => ContainerRecord) {}

  /** The container as connect sees it now: PID 1 while running, and whether a start is under way. */
  private connectable(ref: string): Connectable {
    const r = this.container(ref);
    const live = r.status === 'running' && r.pid !== null && r.pidStartTime !== null ? { pid: r.pid, startTime: r.pidStartTime } : null;
    return { id: r.id, name: r.name, spec: r.spec, starting: r.status === 'starting', live };
  }

  claims(path: string): boolean {
    return path === '/networks' || path.startsWith('/networks/');
  }

  async handle(method: string, path: string, _req: IncomingMessage, res: ServerResponse, body: () => Promise<unknown>): Promise<boolean> {
    if (path === '/networks' && method === 'GET') {
      send(res, 200, this.nets.list().sort((a, b) => a.name.localeCompare(b.name)).map((n) => networkView(n, false)));
      return true;
    }
    if (path === '/networks/create' && method === 'POST') {
      const n = await this.nets.create(createRequest(await body()));
      send(res, 201, { Id: n.id, Warning: '' });
      return true;
    }
    const link = /^\/networks\/([^/]+)\/(connect|disconnect)$/.exec(path);
    if (link && method === 'POST') {
      const ref = decodeURIComponent(link[1]!);
      const req = connectRequest(await body());
      this.nets.get(ref); // an unknown network is a 404 before the container is looked at
      // Looked up again at each step: the container may start, stop or go while a write is awaited.
      const container = (): Connectable => this.connectable(req.container);
      if (link[2] === 'connect') await this.nets.connect(container, ref, req.aliases);
      else await this.nets.disconnect(container, ref);
      send(res, 200);
      return true;
    }
    const m = /^\/networks\/([^/]+)$/.exec(path);
    if (!m) return false;
    const ref = decodeURIComponent(m[1]!);
    if (method === 'GET') send(res, 200, networkView(this.nets.get(ref), true));
    else if (method === 'DELETE') {
      await this.nets.remove(ref);
      send(res, 204);
    } else return false;
    return true;
  }
}
