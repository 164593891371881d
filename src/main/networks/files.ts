// The /etc/hosts and /etc/resolv.conf a container on a bridge network sees: written by skiffd
// into the container's state directory and bound over the container's own at each start.
// What they say changes only with the container (its name, aliases, address, DNS servers), so
// a start whose files already say it writes nothing (EtcWriter): one stat, not two writes.
import { statSync, writeFileSync } from 'node:fs';
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

/** Writes a container's files when what they say (or where they go) differs from the last write. */
export class EtcWriter {
  /** by container id: the directory and texts last written */
  private readonly written = new Map<string, string>();

  write(id: string, dir: string, hosts: string, resolv: string): EtcFiles {
    const key = `${dir}\0${hosts}\0${resolv}`;
    const files = { hostsFile: join(dir, 'hosts'), resolvFile: join(dir, 'resolv.conf') };
    // The stat: a state dir emptied behind skiffd's back gets its files again.
    if (this.written.get(id) === key && statSync(files.resolvFile, { throwIfNoEntry: false }) !== undefined) return files;
    writeEtcFiles(dir, hosts, resolv);
    this.written.set(id, key);
    return files;
  }

  forget(id: string): void {
    this.written.delete(id);
  }
}
