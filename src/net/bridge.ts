// The host side of a network, done by skiffd through rtnetlink (no `ip` process): a bridge with
// the gateway's address, up; its index (what a container's veth names as its master); its removal.
import { ENOENT, SysError, errnoName } from '../sys/errno.js';
import { Ipv4, Subnet } from './ipv4.js';
import { deleteLink, getLink, linkUp, newAddress, newBridge, noLinkLocalOn } from './rtnetlink.js';
import { nextSeq, request } from './rtnl-request.js';
import { constants } from 'node:os';

const { ENODEV, EEXIST } = constants.errno;

const next = nextSeq;

/** The index of a link in skiffd's network namespace, or null when there is none of that name. */
export function linkIndex(name: string): number | null {
  try {
    return request(getLink(next(), name), `get link \`${name}\``);
  } catch (err) {
    if (err instanceof SysError && (err.errno === ENODEV || err.errno === ENOENT)) return null;
    throw err;
  }
}

/**
 * A bridge named `name` holding `gateway`/prefix, up. An existing link of that name (a skiffd
 * restart: the bridge outlives skiffd) is kept as it is; its address is added only if missing.
 */
export function ensureBridge(name: string, gateway: Ipv4, subnet: Subnet): number {
  let index = linkIndex(name);
  if (index === null) {
    request(newBridge(next(), name), `create bridge \`${name}\``);
    index = linkIndex(name);
    if (index === null) throw new Error(`create bridge \`${name}\`: created, but not found afterwards`);
    // IPv4 only: no link-local address, so the bridge sends no IPv6 multicast to its ports.
    request(noLinkLocalOn(next(), index, name), `no IPv6 link-local address on bridge \`${name}\``);
  }
  try {
    request(newAddress(next(), index, gateway, subnet.prefix, subnet.broadcast), `add address ${gateway.toString()}/${subnet.prefix} to bridge \`${name}\``);
  } catch (err) {
    if (!(err instanceof SysError && err.errno === EEXIST)) throw err;
  }
  request(linkUp(next(), index), `set bridge \`${name}\` up`);
  return index;
}

/** Removes a link; one already gone is fine (removal is what was wanted). */
export function removeLink(name: string): void {
  try {
    request(deleteLink(next(), name), `delete link \`${name}\``);
  } catch (err) {
    if (err instanceof SysError && (err.errno === ENODEV || err.errno === ENOENT)) return;
    throw new Error(`delete link \`${name}\`: ${err instanceof SysError ? errnoName(err.errno) : (err as Error).message}`, { cause: err });
  }
}
