// Docker's User field (`uid`, `name`, `uid:gid`, `name:group`) → the ids the init runs as, with
// names and the default group looked up in the image's /etc/passwd and /etc/group as Docker
// does (moby/sys/user). Pure: the files' text is passed in.
import type { UserSpec } from '../../spec/container.js';

export class UserError extends Error {}

interface Entry { name: string; id: number; gid: number; members: string[] }

function parse(text: string | null, group: boolean): Entry[] {
  if (text === null) return [];
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (line.startsWith('#') || f.length < (group ? 3 : 4)) return [];
    const id = Number(f[2]);
    if (!/^\d+$/.test(f[2]!)) return [];
    return [{ name: f[0]!, id, gid: group ? id : Number(f[3]), members: group ? (f[3] ?? '').split(',').filter(Boolean) : [] }];
  });
}

const numeric = (s: string) => /^\d+$/.test(s);

/** null for root (no User, "root", "0", "0:0"); throws UserError naming what is missing. */
export function resolveUser(user: string, passwd: string | null, group: string | null): UserSpec | null {
  if (user === '') return null;
  const [u, g] = user.split(':', 2) as [string, string | undefined];
  const users = parse(passwd, false);
  const groups = parse(group, true);
  const pw = numeric(u) ? users.find((e) => e.id === Number(u)) : users.find((e) => e.name === u);
  if (!numeric(u) && !pw) throw new UserError(`unable to find user ${u}: no matching entries in passwd file`);
  const uid = numeric(u) ? Number(u) : pw!.id;
  let gid = pw?.gid ?? 0;
  if (g !== undefined && g !== '') {
    if (numeric(g)) gid = Number(g);
    else {
      const gr = groups.find((e) => e.name === g);
      if (!gr) throw new UserError(`unable to find group ${g}: no matching entries in group file`);
      gid = gr.id;
    }
  }
  if (uid > 4294967294 || gid > 4294967294) throw new UserError(`user ${JSON.stringify(user)}: ids must be at most 4294967294`);
  // Supplementary groups: the primary one and every group that lists the user (when it was named in passwd).
  const extra = pw && (g === undefined || g === '') ? groups.filter((e) => e.members.includes(pw.name)).map((e) => e.id) : [];
  const all = [...new Set([gid, ...extra])];
  if (all.length > 6) throw new UserError(`user ${JSON.stringify(user)} is in ${all.length} groups; skiff sets at most 6`);
  if (uid === 0 && gid === 0 && all.length === 1) return null;
  return { uid, gid, groups: all };
}
