// Which cgroup hierarchies this host has, detected once at start-up as runc does: statfs of
// the cgroup root says cgroup2 (unified, v2) or tmpfs (v1 controllers, each mounted on its own
// hierarchy, perhaps with a controller-less cgroup2 at <root>/unified: "hybrid").
import { readFileSync, statfsSync } from 'node:fs';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const TMPFS_MAGIC = 0x01021994;

export interface V1Hierarchy {
  /** where it is mounted, e.g. /sys/fs/cgroup/memory */
  mount: string;
  /** its controllers, e.g. ['cpu', 'cpuacct'] */
  controllers: string[];
}

export interface CgroupLayout {
  version: 1 | 2;
  root: string;
  /** v1: every mounted controller hierarchy (named ones such as name=systemd are left alone) */
  v1: V1Hierarchy[];
  /** the cgroup2 mount: the root itself on v2, <root>/unified on a hybrid host, or null */
  unified: string | null;
  /** controllers a limit can use: on v1 those mounted, on v2 those the root offers */
  controllers: Set<string>;
}

/** Mount points of fstype `cgroup` / `cgroup2` from a mountinfo text. */
function cgroupMounts(mountinfo: string): { mount: string; fstype: string; options: string[] }[] {
  const out = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mount = (pre[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ mount, fstype, options: (superOpts ?? '').split(',') });
  }
  return out;
}

/** Detects the layout under `root` (default /sys/fs/cgroup). Throws if there are no cgroups at all. */
export function detectLayout(root = '/sys/fs/cgroup'): CgroupLayout {
  const type = statfsSync(root).type;
  const mounts = cgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  if (type === CGROUP2_SUPER_MAGIC) {
    const offered = readFileSync(`${root}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return { version: 2, root, v1: [], unified: root, controllers: new Set(offered) };
  }
  if (type !== TMPFS_MAGIC) throw new Error(`cgroups: \`${root}\` is neither cgroup2 nor a tmpfs of v1 hierarchies (statfs type 0x${type.toString(16)})`);
  const known = new Set(readFileSync('/proc/cgroups', 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t')[0]!));
  const v1: V1Hierarchy[] = [];
  for (const m of mounts) {
    if (m.fstype !== 'cgroup' || !m.mount.startsWith(`${root}/`)) continue;
    const controllers = m.options.filter((o) => known.has(o));
    if (controllers.length > 0 && !v1.some((h) => h.mount === m.mount)) v1.push({ mount: m.mount, controllers });
  }
  const unified = mounts.find((m) => m.fstype === 'cgroup2' && m.mount === `${root}/unified`)?.mount ?? null;
  return { version: 1, root, v1, unified, controllers: new Set(v1.flatMap((h) => h.controllers)) };
}
