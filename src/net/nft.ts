// skiff's nftables rules: one table of its own, `inet skiff`, always written whole from skiffd's
// state in one `nft -f -` batch (delete and re-create in the same transaction). A batch is
// atomic, and writing the whole table means a skiffd restart or a repeated change can never
// leave a rule twice or a stale one behind.
import { spawnSync } from 'node:child_process';

export const TABLE = 'skiff';

export interface NftNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
}

export interface NftPort {
  /** '0.0.0.0' for every address of the host */
  hostIp: string;
  hostPort: number;
  proto: 'tcp' | 'udp';
  address: string;
  containerPort: number;
}

const q = (s: string): string => JSON.stringify(s);

/** The table's text: isolation between networks, egress masquerade, published ports (DNAT). */
export function rulesetText(networks: readonly NftNetwork[], ports: readonly NftPort[]): string {
  const forward: string[] = [];
  const post: string[] = [];
  for (const n of networks) {
    const others = networks.filter((o) => o.bridge !== n.bridge).map((o) => q(o.bridge));
    // Containers on different networks cannot reach each other: routed between two bridges is dropped.
    if (others.length > 0) forward.push(`iifname ${q(n.bridge)} oifname { ${others.join(', ')} } drop`);
    if (n.internal) {
      // An internal network reaches nothing beyond its bridge, and nothing beyond reaches in.
      forward.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`, `oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
    } else {
      post.push(`ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
    }
  }
  const pre: string[] = [];
  const out: string[] = [];
  for (const p of ports) {
    const dst = p.hostIp === '0.0.0.0' ? 'fib daddr type local' : `ip daddr ${p.hostIp}`;
    const to = `${p.proto} dport ${p.hostPort} dnat ip to ${p.address}:${p.containerPort}`;
    pre.push(`${dst} ${to}`);
    // Connections from the host itself to one of its addresses; 127.0.0.0/8 is left to skiffd's
    // proxy (DNAT of loopback would need route_localnet, which lets martians in on every interface).
    out.push(`${dst} ip daddr != 127.0.0.0/8 ${to}`);
  }
  const chain = (name: string, hook: string, rules: string[]): string =>
    `  chain ${name} {\n    ${hook}\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
  return `table inet ${TABLE}\ndelete table inet ${TABLE}\ntable inet ${TABLE} {\n`
    + chain('forward', 'type filter hook forward priority filter; policy accept;', forward)
    + chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', post)
    + chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', pre)
    + chain('output', 'type nat hook output priority -100; policy accept;', out)
    + '}\n';
}

/** Applies the table in one batch; throws with nft's own message and the batch on failure. */
export function applyRuleset(networks: readonly NftNetwork[], ports: readonly NftPort[]): void {
  const text = rulesetText(networks, ports);
  const r = spawnSync('nft', ['-f', '-'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`nft -f -: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message} (is nftables installed?)`, { cause: r.error });
  if (r.status !== 0) throw new Error(`nft -f - exited with ${r.status}: ${r.stderr.trim()}\nbatch:\n${text}`);
}

/** Removes the table (the last network gone): nothing of skiff's is left in the ruleset. */
export function removeRuleset(): void {
  spawnSync('nft', ['-f', '-'], { input: `table inet ${TABLE}\ndelete table inet ${TABLE}\n`, encoding: 'utf8' });
}
