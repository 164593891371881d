// The network fields of Docker's create body → the spec's: HostConfig.NetworkMode (bridge, a
// network's name, none, host), NetworkingConfig.EndpointsConfig (which network, its Aliases),
// HostConfig.PortBindings and HostConfig.Dns. Pure; every error names the Docker field and value.
import { CreateError, shown } from './fields.js';

type Obj = Record<string, unknown>;

const PORT_KEY = /^(\d+)(?:\/(tcp|udp|sctp))?$/;

function obj(v: unknown, field: string): Obj {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new CreateError(field, `${field} must be an object, got ${shown(v)}`);
  return v as Obj;
}

function portNumber(v: unknown, field: string): number {
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text !== 'string' || !/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new CreateError(field, `${field} ${shown(v)} is not a port from 1 to 65535`);
  }
  return Number(text);
}

/** HostConfig.PortBindings: { "80/tcp": [{ HostIp, HostPort }] } → the spec's ports. */
export function portBindings(v: unknown): Obj[] {
  const ports: Obj[] = [];
  for (const [key, list] of Object.entries(obj(v, 'HostConfig.PortBindings'))) {
    const field = `HostConfig.PortBindings[${key}]`;
    const m = PORT_KEY.exec(key);
    if (!m) throw new CreateError(field, `${field}: ${shown(key)} is not PORT or PORT/PROTO`);
    if (m[2] === 'sctp') throw new CreateError(field, `${field}: sctp is not supported by skiff (tcp or udp)`);
    const containerPort = portNumber(m[1], field);
    if (list === null || list === undefined) continue;
    if (!Array.isArray(list)) throw new CreateError(field, `${field} must be a list of { HostIp, HostPort }`);
    list.forEach((b, i) => {
      const bo = obj(b, `${field}[${i}]`);
      if (bo.HostPort === undefined || bo.HostPort === null || bo.HostPort === '') {
        throw new CreateError(`${field}[${i}].HostPort`, `${field}[${i}].HostPort is empty: skiff publishes on a host port you choose, not a random one`);
      }
      const hostIp = bo.HostIp === undefined || bo.HostIp === null || bo.HostIp === '' ? '0.0.0.0' : bo.HostIp;
      ports.push({ hostIp, hostPort: portNumber(bo.HostPort, `${field}[${i}].HostPort`), containerPort, proto: m[2] ?? 'tcp' });
    });
  }
  return ports;
}

/**
 * The spec's network fields. `defaultNetwork` is what a body that names none gets: `bridge`
 * (Docker's default), or `none` when skiffd runs with --docker-network none.
 */
export function networkFields(b: Obj, host: Obj, defaultNetwork: string): Obj {
  const nm = host.NetworkMode ?? 'default';
  if (typeof nm !== 'string') throw new CreateError('HostConfig.NetworkMode', `HostConfig.NetworkMode must be a string, got ${shown(nm)}`);
  if (nm.startsWith('container:')) throw new CreateError('HostConfig.NetworkMode', `HostConfig.NetworkMode ${shown(nm)} is not supported by skiff (bridge, a network's name, none or host)`);
  const endpoints = obj(obj(b.NetworkingConfig, 'NetworkingConfig').EndpointsConfig, 'NetworkingConfig.EndpointsConfig');
  const named = Object.keys(endpoints);
  // The docker CLI names the endpoint after the mode it sent, `default` included: not a network's name.
  const chosen = named.length === 1 && named[0] !== 'default' ? named[0]! : null;
  let network = nm === 'default' || nm === '' ? chosen ?? defaultNetwork : nm;
  if (named.length > 1) throw new CreateError('NetworkingConfig.EndpointsConfig', `NetworkingConfig.EndpointsConfig names ${named.length} networks: a skiff container is on one`);
  if (b.NetworkDisabled === true) {
    if (network === 'host') throw new CreateError('NetworkDisabled', 'NetworkDisabled true contradicts HostConfig.NetworkMode "host"');
    network = 'none';
  }
  const endpoint = obj(endpoints[network] ?? endpoints[named[0] ?? ''], `NetworkingConfig.EndpointsConfig[${network}]`);
  const out: Obj = { network };
  const aliases = endpoint.Aliases;
  if (Array.isArray(aliases) && aliases.length > 0) out.networkAliases = aliases;
  const ports = portBindings(host.PortBindings);
  if (ports.length > 0) out.ports = ports;
  if (Array.isArray(host.Dns) && host.Dns.length > 0) out.dns = host.Dns;
  else if (host.Dns !== undefined && host.Dns !== null && !Array.isArray(host.Dns)) throw new CreateError('HostConfig.Dns', `HostConfig.Dns must be a list of addresses, got ${shown(host.Dns)}`);
  return out;
}
