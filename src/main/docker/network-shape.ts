// A container's network in Docker's inspect shape: NetworkSettings (its address, gateway, MAC,
// prefix, per network and at the top level as older clients read it), Ports, PortBindings. Pure.
import type { ContainerSpec } from '../../spec/container.js';

/** What skiffd's networks know of one container's endpoint (src/main/networks). */
export interface EndpointInfo {
  /** the network's Docker name (skiff0 is `bridge`) */
  network: string;
  networkId: string;
  endpointId: string;
  address: string;
  gateway: string;
  prefix: number;
  mac: string;
  /** its names on a network added by connect */
  aliases?: string[];
  /** the networks added by `network connect`, each with its own endpoint */
  more?: EndpointInfo[];
}

type Bindings = Record<string, { HostIp: string; HostPort: string }[]>;

export function portBindings(spec: ContainerSpec): Bindings {
  const out: Bindings = {};
  for (const p of spec.ports) {
    const key = `${p.containerPort}/${p.proto}`;
    (out[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}

export function networkSettings(spec: ContainerSpec, ep: EndpointInfo | null): Record<string, unknown> {
  const address = { Gateway: ep?.gateway ?? '', IPAddress: ep?.address ?? '', IPPrefixLen: ep?.prefix ?? 0, MacAddress: ep?.mac ?? '' };
  const name = ep?.network ?? spec.network;
  return {
    Bridge: '', SandboxID: '', SandboxKey: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: portBindings(spec),
    SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: ep?.endpointId ?? '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    IPv6Gateway: '', ...address,
    Networks: {
      [name]: {
        IPAMConfig: null, Links: null, Aliases: spec.networkAliases.length > 0 ? spec.networkAliases : null, DriverOpts: null,
        NetworkID: ep?.networkId ?? spec.network, EndpointID: ep?.endpointId ?? '', IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
        DNSNames: ep ? [spec.name, ...spec.networkAliases] : null, ...address,
      },
      ...Object.fromEntries((ep?.more ?? []).map((m) => [m.network, {
        IPAMConfig: null, Links: null, Aliases: m.aliases ?? null, DriverOpts: null, NetworkID: m.networkId, EndpointID: m.endpointId,
        IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: [spec.name, ...(m.aliases ?? [])],
        Gateway: m.gateway, IPAddress: m.address, IPPrefixLen: m.prefix, MacAddress: m.mac,
      }])),
    },
  };
}
