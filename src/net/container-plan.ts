// A container's attachment to a bridge network as launch-plan operations. Pure: skiffd decided
// the values (src/main/networks), this module turns them into rtnetlink requests, and launch.c
// sends them:
//
//   child1 (launcher's netns)                        PID 1 (the container's new netns)
//   host_netlink: RTM_NEWLINK veth                   waits on the sync pipe
//     host end on the bridge, up;
//     peer `eth0` (its MAC) created directly in
//     PID 1's netns (IFLA_NET_NS_PID)          ──▶   netlink: lo up (index 1)
//                                                    netlink: eth0 up (index 2)
//                                                    netlink: address/prefix on eth0
//                                                    netlink: default route via the gateway (not internal)
//
// Index 2: a new network namespace holds only lo (always index 1) when child1 creates the
// peer in it, and the kernel gives a namespace's next link the lowest free index. The eth0
// request names the link as well, so if that ever changed it would fail loudly (ENODEV),
// never configure some other link.
import type { Op } from '../native/plan-format.js';
import { Ipv4 } from './ipv4.js';
import { linkUp, linkUpNamed, newAddress, newDefaultRoute, newVethIntoPid } from './rtnetlink.js';

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
}

const LO_INDEX = 1;
const ETH0_INDEX = 2;
export const CONTAINER_IFNAME = 'eth0';

export function networkOps(a: NetAttachment): Op[] {
  const address = Ipv4.parse(a.address);
  const broadcast = Ipv4.of((address.n | (2 ** (32 - a.prefix) - 1)) >>> 0);
  const veth = newVethIntoPid(1, a.hostIfname, a.bridgeIndex, CONTAINER_IFNAME, a.mac);
  const ops: Op[] = [
    { what: `network ${a.network}: create the veth \`${a.hostIfname}\` on bridge \`${a.bridge}\`, its peer \`${CONTAINER_IFNAME}\` in the container`, op: 'host_netlink', message: veth.message, pidOffset: veth.pidOffset },
    { what: 'bring up the loopback interface', op: 'netlink', message: linkUp(2, LO_INDEX) },
    { what: `network ${a.network}: bring up \`${CONTAINER_IFNAME}\``, op: 'netlink', message: linkUpNamed(3, ETH0_INDEX, CONTAINER_IFNAME) },
    { what: `network ${a.network}: add address ${a.address}/${a.prefix} to \`${CONTAINER_IFNAME}\``, op: 'netlink', message: newAddress(4, ETH0_INDEX, address, a.prefix, broadcast) },
  ];
  if (a.gateway !== null) {
    ops.push({ what: `network ${a.network}: default route via ${a.gateway}`, op: 'netlink', message: newDefaultRoute(5, ETH0_INDEX, Ipv4.parse(a.gateway)) });
  }
  return ops;
}
