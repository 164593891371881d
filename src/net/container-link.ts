// Another interface in a running container (docker network connect), or one taken away
// (disconnect), done by skiffd through rtnetlink; no `ip` process, no launcher.
//
//   skiffd, its own netns                              the container's netns (entered by pidfd)
//   socket A (skiffd's)                                socket B: made after setns(pidfd), kept
//   RTM_NEWLINK veth: host end on the bridge, up;
//     peer `ethN` (its MAC) created directly in  ──▶   RTM_GETLINK ethN → its index
//     the container's netns (IFLA_NET_NS_FD)           RTM_NEWLINK ethN addrgenmode none, then up
//                                                      RTM_NEWADDR address/prefix on ethN
//
// No default route: the container's first network keeps it, as in Docker. Any failure after the
// pair exists deletes the peer (which takes the host end with it), so nothing is left.
import { constants } from 'node:os';
import { ENOENT, SysError } from '../sys/errno.js';
import { close } from '../sys/libc.js';
import { NetlinkSocket } from '../sys/netlink.js';
import { Ipv4 } from './ipv4.js';
import { nextSeq, request } from './rtnl-request.js';
import { deleteLink, getLink, linkUpNamed, newAddress, newVethIntoNetns, noLinkLocalOn } from './rtnetlink.js';

const { ENODEV } = constants.errno;

/** One more interface of a container: all decided by skiffd (src/main/networks). */
export interface InterfaceAttachment {
  network: string;
  bridge: string;
  bridgeIndex: number;
  /** the host end's name, unique among skiffd's containers */
  hostIfname: string;
  /** its name in the container: eth1, eth2, … */
  ifname: string;
  address: string;
  prefix: number;
  mac: string;
}

export const broadcastOf = (address: Ipv4, prefix: number): Ipv4 => Ipv4.of((address.n | (2 ** (32 - prefix) - 1)) >>> 0);

/** Adds the interface to the running container whose PID 1 `pidfd` names. */
export function addInterface(pidfd: number, a: InterfaceAttachment, container: string): void {
  const where = `container ${container}`;
  const { socket, nsfd } = NetlinkSocket.inNetnsOf(pidfd, `enter the network namespace of ${where}`);
  try {
    request(newVethIntoNetns(nextSeq(), a.hostIfname, a.bridgeIndex, a.ifname, a.mac, nsfd),
      `network ${a.network}: create the veth \`${a.hostIfname}\` on bridge \`${a.bridge}\`, its peer \`${a.ifname}\` in ${where}`);
    try {
      const index = request(getLink(nextSeq(), a.ifname), `network ${a.network}: find \`${a.ifname}\` in ${where}`, socket);
      if (index === null) throw new Error(`network ${a.network}: find \`${a.ifname}\` in ${where}: the kernel answered without an index`);
      request(noLinkLocalOn(nextSeq(), index, a.ifname), `network ${a.network}: no IPv6 link-local address on \`${a.ifname}\` in ${where}`, socket);
      request(linkUpNamed(nextSeq(), index, a.ifname), `network ${a.network}: bring up \`${a.ifname}\` in ${where}`, socket);
      const address = Ipv4.parse(a.address);
      request(newAddress(nextSeq(), index, address, a.prefix, broadcastOf(address, a.prefix)),
        `network ${a.network}: add address ${a.address}/${a.prefix} to \`${a.ifname}\` in ${where}`, socket);
    } catch (err) {
      deleteQuietly(socket, a.ifname);
      throw err;
    }
  } finally {
    socket.close();
    close(nsfd);
  }
}

/** Removes a container's interface (its veth pair goes with it); one already gone is fine. */
export function removeInterface(pidfd: number, ifname: string, network: string, container: string): void {
  const where = `container ${container}`;
  const { socket, nsfd } = NetlinkSocket.inNetnsOf(pidfd, `enter the network namespace of ${where}`);
  try {
    request(deleteLink(nextSeq(), ifname), `network ${network}: delete \`${ifname}\` in ${where}`, socket);
  } catch (err) {
    if (!(err instanceof SysError && (err.errno === ENODEV || err.errno === ENOENT))) throw err;
  } finally {
    socket.close();
    close(nsfd);
  }
}

function deleteQuietly(socket: NetlinkSocket, ifname: string): void {
  try {
    request(deleteLink(nextSeq(), ifname), `delete \`${ifname}\``, socket);
  } catch { /* the first error is the one to report */ }
}
