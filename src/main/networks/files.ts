// The /etc/hosts and /etc/resolv.conf a container on a bridge network sees: written by skiffd
// into the container's state directory at each start and bound over the container's own.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EtcFiles { hostsFile: string; resolvFile: string }

/** The container's own name and address; localhost as every resolver expects it. */
export function hostsText(address: string, names: readonly string[]): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${address}\t${[...new Set(names)].join(' ')}\n`;
}

/** The network's DNS (its gateway) unless the container names its own servers (--dns). */
export function resolvText(nameservers: readonly string[]): string {
  return `${nameservers.map((n) => `nameserver ${n}\n`).join('')}options ndots:0\n`;
}

export function writeEtcFiles(dir: string, hosts: string, resolv: string): EtcFiles {
  const hostsFile = join(dir, 'hosts');
  const resolvFile = join(dir, 'resolv.conf');
  writeFileSync(hostsFile, hosts, { mode: 0o644 });
  writeFileSync(resolvFile, resolv, { mode: 0o644 });
  return { hostsFile, resolvFile };
}
