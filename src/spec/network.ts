// The network fields of a container spec: which network (none, host, or a bridge network by
// name), its aliases there, published ports and DNS servers. Pure; errors name the field and value.
import { NAME_PATTERN } from './container.js';
import { SpecError } from './fields.js';

export interface PortSpec {
  /** the host address to publish on; 0.0.0.0 for all of them */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  proto: 'tcp' | 'udp';
}

export interface NetworkFields {
  /** 'none' (a namespace with loopback only), 'host', or a bridge network's name */
  network: string;
  /** more names the container answers to in its network's DNS */
  networkAliases: string[];
  ports: PortSpec[];
  /** nameservers for the container's /etc/resolv.conf; null: the network's own DNS (its gateway) */
  dns: string[] | null;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ALIAS = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62})$/;

const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v);

function port(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new SpecError(field, `must be a port from 1 to 65535, got ${shown(v)}`);
  return v;
}

function validatePort(v: unknown, field: string): PortSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SpecError(field, `must be an object, got ${shown(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['hostIp', 'hostPort', 'containerPort', 'proto'].includes(k)) throw new SpecError(`${field}.${k}`, 'is not a known field (known: hostIp, hostPort, containerPort, proto)');
  }
  const hostIp = o.hostIp === undefined ? '0.0.0.0' : o.hostIp;
  if (typeof hostIp !== 'string' || !IPV4.test(hostIp)) throw new SpecError(`${field}.hostIp`, `must be an IPv4 address, got ${shown(hostIp)}`);
  const proto = o.proto === undefined ? 'tcp' : o.proto;
  if (proto !== 'tcp' && proto !== 'udp') throw new SpecError(`${field}.proto`, `must be tcp or udp, got ${shown(proto)}`);
  return { hostIp, hostPort: port(o.hostPort, `${field}.hostPort`), containerPort: port(o.containerPort, `${field}.containerPort`), proto };
}

export function validateNetworkFields(input: Record<string, unknown>): NetworkFields {
  const network = input.network ?? 'none';
  if (typeof network !== 'string' || !NAME_PATTERN.test(network)) {
    throw new SpecError('network', `must be none, host or a network's name, got ${shown(network)}`);
  }
  const bridged = network !== 'none' && network !== 'host';
  const aliasesIn = input.networkAliases ?? [];
  if (!Array.isArray(aliasesIn)) throw new SpecError('networkAliases', `must be a list, got ${shown(aliasesIn)}`);
  const networkAliases = aliasesIn.map((a, i) => {
    if (typeof a !== 'string' || !ALIAS.test(a)) throw new SpecError(`networkAliases[${i}]`, `must be a DNS name of letters, digits, _ . -, got ${shown(a)}`);
    return a;
  });
  const portsIn = input.ports ?? [];
  if (!Array.isArray(portsIn)) throw new SpecError('ports', `must be a list, got ${shown(portsIn)}`);
  const ports = portsIn.map((p, i) => validatePort(p, `ports[${i}]`));
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${p.hostPort}/${p.proto}`;
    if (seen.has(key)) throw new SpecError(`ports[${i}]`, `publishes host port ${key} twice`);
    seen.add(key);
  });
  let dns: string[] | null = null;
  if (input.dns !== undefined && input.dns !== null) {
    if (!Array.isArray(input.dns)) throw new SpecError('dns', `must be a list of IPv4 addresses, got ${shown(input.dns)}`);
    dns = input.dns.map((d, i) => {
      if (typeof d !== 'string' || !IPV4.test(d)) throw new SpecError(`dns[${i}]`, `must be an IPv4 address, got ${shown(d)}`);
      return d;
    });
  }
  if (!bridged) {
    if (ports.length > 0) throw new SpecError('ports', `need a bridge network: network ${network} has no address of its own to publish`);
    if (networkAliases.length > 0) throw new SpecError('networkAliases', `need a bridge network, not ${network}`);
    if (dns !== null && network === 'none') throw new SpecError('dns', 'needs a network: network none reaches no server');
  }
  return { network, networkAliases, ports, dns };
}
