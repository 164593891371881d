// skiffd's image API, Docker's paths (names may hold slashes: /images/127.0.0.1:5000/a/b:1/json):
//
//   POST   /images/create?fromImage=REF[&tag=T]  pull; 200 and Docker's JSON progress lines, or an error
//                                                 status before the first line (bad reference 400,
//                                                 no such image or access denied 404, registry down 503)
//   GET    /images/json                           list
//   GET    /images/{name}/json                    inspect
//   DELETE /images/{name}[?force=1]               untag, then delete when no tag is left; 409 while a
//                                                 container uses it (force: delete anyway, layers stay)
//   POST   /images/{name}/tag?repo=R[&tag=T]      201
//   POST   /images/load                           a `docker save` archive or an OCI layout (tar body)
//   GET    /images/{name}/get                     a `docker save` archive
//   POST   /auth                                  { username, password, serveraddress }: checked with the
//                                                 registry, then saved for skiffd's own pulls (skiff login)
//   DELETE /auth/{server}                         forget a saved login (skiff logout); 404 if none
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Extensions } from '../http/api.js';
import { flag } from '../http/query.js';
import { API_VERSION, send } from '../http/respond.js';
import { Conflict, InvalidArgument, NotFound, Unsupported } from '../lifecycle/errors.js';
import { registryKey } from './auths.js';
import type { Puller } from './puller.js';
import type { Daemon } from '../daemon.js';
import { log } from '../log.js';
import { findImage, getImage } from './lookup.js';
import { pull, resolve, type PullProgress } from './pull.js';
import { familiarName, formatReference, parseReference, ReferenceError, type Reference } from '../../spec/image-reference.js';
import type { Credentials } from './registry.js';
import { imageInspect, imageSummary } from './shape.js';
import type { ImageStore } from './store.js';
import { loadArchive } from './load.js';
import { saveArchive } from './save.js';

function reference(text: string): Reference {
  try {
    return parseReference(text);
  } catch (err) {
    if (err instanceof ReferenceError) throw new InvalidArgument(err.message, 'fromImage');
    throw err;
  }
}

/** Docker's X-Registry-Auth: base64url JSON { username, password } or { identitytoken }. */
export function registryAuth(header: string | string[] | undefined): Credentials | null {
  if (typeof header !== 'string' || header === '') return null;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new InvalidArgument('X-Registry-Auth is not base64url-encoded JSON');
  }
  if (typeof v.identitytoken === 'string' && v.identitytoken !== '') return { identityToken: v.identitytoken };
  if (typeof v.username === 'string' && v.username !== '') return { username: v.username, password: typeof v.password === 'string' ? v.password : '' };
  return null;
}

export class ImagesApi implements Extensions {
  private readonly store: ImageStore;
  private readonly pulls: Puller;

  constructor(private readonly d: Daemon) {
    this.store = d.images;
    this.pulls = d.pulls;
  }

  claims(path: string): boolean {
    return path === '/auth' || path.startsWith('/auth/') || path.startsWith('/images/');
  }

  async handle(method: string, path: string, req: IncomingMessage, res: ServerResponse, body: () => Promise<unknown>): Promise<boolean> {
    if (path === '/auth' && method === 'POST') return this.login(await body(), res).then(() => true);
    const out = /^\/auth\/(.+)$/.exec(path);
    if (out && method === 'DELETE') {
      this.logout(decodeURIComponent(out[1]!), res);
      return true;
    }
    if (!path.startsWith('/images/')) return false;
    const q = new URL(req.url ?? '/', 'http://skiffd').searchParams;
    if (path === '/images/create' && method === 'POST') return this.pull(q, req, res).then(() => true);
    if (path === '/images/json' && method === 'GET') {
      const used = this.containersByImage();
      send(res, 200, this.store.images().map((im) => imageSummary(this.store, im, used.get(im.id) ?? 0)));
      return true;
    }
    if (path === '/images/load' && method === 'POST') {
      const loaded = await loadArchive(this.store, req);
      const quiet = flag(q, 'quiet');
      const lines = loaded.map((l) => JSON.stringify({ stream: `Loaded image${l.tags.length ? '' : ' ID'}: ${l.tags.length ? l.tags.map(familiarName).join(', ') : l.id}\n` }));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
      res.end(quiet ? '' : `${lines.join('\n')}\n`);
      return true;
    }
    const m = /^\/images\/(.+?)(?:\/(json|tag|get))?$/.exec(path);
    if (!m) return false;
    const name = decodeURIComponent(m[1]!);
    const action = m[2];
    if (action === 'json' && method === 'GET') send(res, 200, imageInspect(this.store, getImage(this.store, name)));
    else if (action === 'tag' && method === 'POST') this.tag(name, q, res);
    else if (action === 'get' && method === 'GET') await saveArchive(this.store, [name], res);
    else if (action === undefined && method === 'DELETE') send(res, 200, this.remove(name, flag(q, 'force')));
    else return false;
    return true;
  }

  private containersByImage(): Map<string, number> {
    const n = new Map<string, number>();
    for (const r of this.d.supervisor.list()) if (r.spec.fromImage) n.set(r.spec.fromImage.id, (n.get(r.spec.fromImage.id) ?? 0) + 1);
    return n;
  }

  private async pull(q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (q.get('fromSrc') !== null) throw new Unsupported('POST /images/create?fromSrc= (import) is not supported by skiff: use POST /images/load');
    const from = q.get('fromImage');
    if (!from) throw new InvalidArgument('query parameter fromImage is required', 'fromImage');
    const tag = q.get('tag');
    // Docker sends the tag apart (fromImage=busybox&tag=1); a digest comes the same way.
    const text = tag ? `${from}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : from;
    const ref = reference(text);
    const o = this.pulls.options(ref, registryAuth(req.headers['x-registry-auth']));
    const name = formatReference(ref);
    // Resolved before the 200: a missing image or a refused login is a status, not a line.
    const resolved = await resolve(ref, o);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
    const line = (v: object) => res.write(`${JSON.stringify(v)}\r\n`);
    line({ status: ref.tag !== null ? `Pulling from ${ref.repository}` : `Pulling ${name}`, id: ref.tag ?? ref.digest });
    const existed = findImage(this.store, name)?.id === resolved.manifest.config.digest;
    try {
      const image = await pull(this.store, ref, resolved, { ...o, onProgress: (p: PullProgress) => line(progressLine(p)) });
      line({ status: `Digest: ${resolved.digest}` });
      line({ status: existed ? `Status: Image is up to date for ${familiarName(name)}` : `Status: Downloaded newer image for ${familiarName(name)}` });
      log('info', 'image pulled', { ref: name, id: image.id });
    } catch (err) {
      const message = (err as Error).message;
      log('warn', 'pull failed', { ref: name, error: message });
      line({ errorDetail: { message }, error: message });
    }
    res.end();
  }

  /** Docker's POST /auth { username, password, serveraddress }: checked with the registry, then saved for skiffd's pulls. */
  private async login(input: unknown, res: ServerResponse): Promise<void> {
    const b = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    const text = (k: string): string | undefined => {
      if (b[k] === undefined || b[k] === null) return undefined;
      if (typeof b[k] !== 'string') throw new InvalidArgument(`${k} must be a string`, k);
      return b[k];
    };
    const username = text('username');
    const password = text('password') ?? '';
    if (!username) throw new InvalidArgument('username is required (skiff login -u USER)', 'username');
    if (password === '') throw new InvalidArgument('password is required (skiff login --password-stdin)', 'password');
    let server: string | undefined;
    try {
      server = registryKey(text('serveraddress'));
    } catch (err) {
      throw new InvalidArgument(`serveraddress: ${(err as Error).message}`, 'serveraddress');
    }
    const registry = await this.pulls.login(server, username, password);
    log('info', 'registry login saved', { registry, username });
    send(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  }

  /** skiff logout: DELETE /auth/{server} forgets a saved login. */
  private logout(server: string, res: ServerResponse): void {
    let registry: string;
    try {
      registry = registryKey(server);
    } catch (err) {
      throw new InvalidArgument(`server: ${(err as Error).message}`, 'server');
    }
    if (!this.pulls.credentials.remove(registry)) throw new NotFound(`not logged in to ${registry}`);
    log('info', 'registry login removed', { registry });
    send(res, 200, { Status: `Removed login credentials for ${registry}` });
  }

  private tag(name: string, q: URLSearchParams, res: ServerResponse): void {
    const im = getImage(this.store, name);
    const repo = q.get('repo');
    if (!repo) throw new InvalidArgument('query parameter repo is required', 'repo');
    const tag = q.get('tag');
    const ref = reference(tag ? `${repo}:${tag}` : repo);
    if (ref.tag === null) throw new InvalidArgument(`cannot tag with a digest: ${repo}`, 'repo');
    this.store.tag(im.id, formatReference(ref));
    send(res, 201);
  }

  /** Docker's rmi: untag a name; delete the image once no tag is left, or when named by id. */
  private remove(name: string, force: boolean): object[] {
    const im = getImage(this.store, name);
    const out: object[] = [];
    const tags = this.store.tagsOf(im.id);
    let named: string | null = null;
    try {
      const r = parseReference(name);
      if (r.tag !== null && tags.includes(formatReference(r))) named = formatReference(r);
    } catch {
      // an id or an id prefix
    }
    if (named !== null && tags.length > 1) {
      this.store.untag(named);
      return [{ Untagged: familiarName(named) }];
    }
    if (named === null && tags.length > 1 && !force) {
      throw new Conflict(`conflict: unable to delete ${im.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    }
    const users = this.d.supervisor.list().filter((r) => r.spec.fromImage?.id === im.id);
    if (users.length > 0 && !force) {
      throw new Conflict(`conflict: unable to remove repository reference ${JSON.stringify(name)} (must force) - container ${users[0]!.id.slice(0, 12)} is using its referenced image ${im.id.slice(7, 19)}`);
    }
    for (const t of tags) out.push({ Untagged: familiarName(t) });
    for (const d of im.repoDigests) out.push({ Untagged: familiarName(d) });
    const deleted = this.store.deleteImage(im.id);
    out.push({ Deleted: im.id });
    log('info', 'image removed', { id: im.id, deleted: deleted.length });
    return out;
  }
}

/** One of Docker's progress lines for a layer. */
function progressLine(p: PullProgress): object {
  if (p.current === undefined) return { status: p.status, progressDetail: {}, ...(p.id ? { id: p.id } : {}) };
  const total = p.total ?? 0;
  const width = 50;
  const done = total > 0 ? Math.min(width, Math.floor((p.current / total) * width)) : 0;
  const bar = `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}]`;
  return { status: p.status, progressDetail: { current: p.current, total }, progress: `${bar} ${mb(p.current)}/${mb(total)}`, ...(p.id ? { id: p.id } : {}) };
}

function mb(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}kB` : `${n}B`;
}
