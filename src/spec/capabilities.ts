// Linux capabilities: their names and numbers, the default set a container keeps, and the
// spec's `capabilities: { add, drop }`. Pure: no I/O. The plan builder turns the resolved set
// into bit masks (src/workers/plan.ts); launch.c only applies them.

/** Every capability the kernel headers name, by number (linux/capability.h, up to 6.x). */
export const CAPABILITY_NUMBERS: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5,
  CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

/**
 * What a container keeps by default: Docker's default set without CAP_MKNOD. Docker can
 * grant mknod because its device cgroup stops a container from opening the nodes it makes;
 * skiff sets up no device cgroup, so a container with CAP_MKNOD could create /dev/sda in its
 * own /dev (a tmpfs that must allow devices) and read the host's disk. `add: [MKNOD]` grants it.
 * As a mask: 0xa00425fb.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
];

/** `capabilities` in a spec: names normalized to `CAP_X`, or `ALL`. */
export interface CapabilitiesSpec {
  add: string[];
  drop: string[];
}

/** "chown", "CAP_CHOWN", "Cap_Chown" → "CAP_CHOWN"; "all" → "ALL"; null for an unknown name. */
export function normalizeCapability(name: string): string | null {
  const upper = name.toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  return Object.hasOwn(CAPABILITY_NUMBERS, full) ? full : null;
}

/**
 * The set a container ends up with: the default set, minus `drop` (everything for ALL),
 * plus `add` (everything for ALL). As capability numbers, ascending.
 */
export function resolveCapabilities(spec: CapabilitiesSpec): number[] {
  const all = Object.keys(CAPABILITY_NUMBERS);
  const set = new Set(spec.drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !spec.drop.includes(c)));
  for (const c of spec.add.includes('ALL') ? all : spec.add) set.add(c);
  return [...set].map((c) => CAPABILITY_NUMBERS[c]!).sort((a, b) => a - b);
}

/** Capability numbers → a 64-bit mask. */
export function capabilityMask(caps: readonly number[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
}
