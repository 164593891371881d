// A container's attachment to a bridge network as launch-plan operations. Pure: skiffd decided
// the values (src/main/networks), this module turns them into rtnetlink requests, and launch.c
// sends them:
//
//   child1 (launcher's netns)                        PID 1 (the container's new netns)
//   host_netlink: RTM_NEWLINK veth                   waits on the sync pipe
//     host end on the bridge, up;
//     peer `eth0` (its MAC, down) created directly
//     in PID 1's netns (IFLA_NET_NS_PID)       ──▶   netlink: lo up (index 1)
//                                                    netlink: eth0 addrgenmode none, then eth0 up (index 2)
//                                                    netlink: address/prefix on eth0
//                                                    netlink: default route via the gateway (not internal)
//
// Index 2: a new network namespace holds only lo (always index 1) when child1 creates the
// peer in it, and the kernel gives a namespace's next link the lowest free index. The eth0
// request names the link as well, so if that ever changed it would fail loudly (ENODEV),
// never configure some other link. Networks added by `network connect` follow in the same way:
// one more host_netlink each, in order, so their interfaces (eth1, …) are indexes 3, 4, …
import type { Op } from '../native/plan-format.js';
import { Ipv4 } from './ipv4.js';
import { broadcastOf, type InterfaceAttachment } from './container-link.js';
import { linkUp, linkUpNamed, newAddress, newDefaultRoute, newVethIntoPid, noLinkLocalOn } from './rtnetlink.js';

/** What the launcher needs to attach one container to one network: all decided by skiffd. */
export interface NetAttachment {
  network: string;
  bridge: string;
  bridgeIndex: number;
  /** the host end's name, unique among skiffd's containers */
  hostIfname: string;
  address: string;
  prefix: number;
  /** null for an internal network: no default route out */
  gateway: string | null;
  mac: string;
  /** host files bound over the container's /etc/hosts and /etc/resolv.conf */
  hostsFile: string;
  resolvFile: string;
  /** the container's further networks (network connect), each its own interface, no route */
  more?: InterfaceAttachment[];
}

const LO_INDEX = 1;
const ETH0_INDEX = 2;
export const CONTAINER_IFNAME = 'eth0';

export function networkOps(a: NetAttachment): Op[] {
  let seq = 0;
  const ops: Op[] = [];
  // One interface: the pair (the host end up on the bridge), then the container's end without
  // IPv6 link-local (rtnetlink.ts, noLinkLocal: why, and why a request of its own) and up, then
  // the address. The host end keeps its link-local address: what it sends goes only to its own
  // container, never through the bridge to the others, and one request fewer per start.
  const iface = (network: string, bridge: string, bridgeIndex: number, hostIfname: string, ifname: string, mac: string, index: number, address: string, prefix: number): void => {
    const at = Ipv4.parse(address);
    const pair = newVethIntoPid(++seq, hostIfname, bridgeIndex, ifname, mac);
    ops.push(
      { what: `network ${network}: create the veth \`${hostIfname}\` on bridge \`${bridge}\`, its peer \`${ifname}\` in the container`, op: 'host_netlink', message: pair.message, pidOffset: pair.pidOffset },
      { what: `network ${network}: no IPv6 link-local address on \`${ifname}\``, op: 'netlink', message: noLinkLocalOn(++seq, index, ifname) },
      { what: `network ${network}: bring up \`${ifname}\``, op: 'netlink', message: linkUpNamed(++seq, index, ifname) },
      { what: `network ${network}: add address ${address}/${prefix} to \`${ifname}\``, op: 'netlink', message: newAddress(++seq, index, at, prefix, broadcastOf(at, prefix)) },
    );
  };
  ops.push({ what: 'bring up the loopback interface', op: 'netlink', message: linkUp(++seq, LO_INDEX) });
  iface(a.network, a.bridge, a.bridgeIndex, a.hostIfname, CONTAINER_IFNAME, a.mac, ETH0_INDEX, a.address, a.prefix);
  if (a.gateway !== null) {
    ops.push({ what: `network ${a.network}: default route via ${a.gateway}`, op: 'netlink', message: newDefaultRoute(++seq, ETH0_INDEX, Ipv4.parse(a.gateway)) });
  }
  (a.more ?? []).forEach((m, k) => iface(m.network, m.bridge, m.bridgeIndex, m.hostIfname, m.ifname, m.mac, ETH0_INDEX + 1 + k, m.address, m.prefix));
  return ops;
}
