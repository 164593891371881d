// A client of the OCI Distribution API (registry v2): manifests and blobs of one repository,
// with the WWW-Authenticate challenge flow (anonymous or Basic-authenticated bearer tokens, or
// Basic itself). HTTPS, or plain HTTP for registries marked insecure and for loopback ones
// (127.0.0.0/8, ::1, localhost), as Docker does. Errors name the registry, the URL and status.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { NotFound, Unavailable } from '../lifecycle/errors.js';
import { DOCKER_HUB, type Reference } from '../../spec/image-reference.js';

export type Credentials = { username: string; password: string } | { identityToken: string };

export const MANIFEST_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;
const ACCEPT = Object.values(MANIFEST_TYPES).join(', ');
/** A manifest bigger than this is not a manifest (the distribution spec suggests 4 MiB). */
const MAX_MANIFEST = 4 << 20;
const REQUEST_TIMEOUT_MS = 60_000;

export interface Fetched {
  mediaType: string;
  body: Buffer;
}

/** Is this registry host one Docker talks plain HTTP to without being told? */
export function loopbackRegistry(host: string): boolean {
  const name = host.replace(/:\d+$/, '');
  return name === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(name) || name === '[::1]';
}

/** Parses `Bearer realm="…",service="…",scope="…"` (quoted values may hold commas). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

export class RegistryClient {
  private readonly root: string;
  private readonly base: string;
  private authorization: string | null = null;
  private readonly host: string;

  /** `ref.repository` is '' for a client that only logs in (ping). */
  constructor(private readonly ref: Reference, insecure: ReadonlySet<string>, private readonly creds: Credentials | null) {
    this.host = ref.registry === DOCKER_HUB ? 'registry-1.docker.io' : ref.registry;
    const plain = insecure.has(ref.registry) || loopbackRegistry(ref.registry);
    this.root = `${plain ? 'http' : 'https'}://${this.host}/v2/`;
    this.base = `${this.root}${ref.repository}`;
  }

  /**
   * GET /v2/ with the challenge flow, as `docker login` checks credentials: resolves when the
   * registry accepts them (or needs none), throws naming the registry and its answer otherwise.
   */
  async ping(): Promise<void> {
    const res = await this.get(this.root, {});
    await res.body?.cancel();
  }

  /** Who is refused, in the words of the error: a pull of a repository, or a login. */
  private denied(): string {
    return this.ref.repository === '' ? `login to ${this.ref.registry} refused` : `pull access denied for ${this.ref.registry}/${this.ref.repository}`;
  }

  /** GET a manifest by tag or digest: its bytes and media type. */
  async manifest(tagOrDigest: string): Promise<Fetched> {
    const url = `${this.base}/manifests/${tagOrDigest}`;
    const res = await this.get(url, { Accept: ACCEPT });
    const len = Number(res.headers.get('content-length') ?? '0');
    if (len > MAX_MANIFEST) throw new Error(`manifest ${url}: ${len} bytes is more than the ${MAX_MANIFEST} a manifest may have`);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > MAX_MANIFEST) throw new Error(`manifest ${url}: more than ${MAX_MANIFEST} bytes`);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    return { mediaType: type, body };
  }

  /** GET a blob as a stream (the store hashes it as it arrives). */
  async blob(digest: string): Promise<Readable> {
    const res = await this.get(`${this.base}/blobs/${digest}`, {}, false);
    if (!res.body) throw new Error(`blob ${digest}: the registry sent no body`);
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }

  private async get(url: string, headers: Record<string, string>, timeout = true): Promise<Response> {
    let res = await this.fetch(url, headers, timeout);
    if (res.status === 401 && this.authorization === null) {
      await res.body?.cancel();
      this.authorization = await this.authenticate(url, res.headers.get('www-authenticate') ?? '');
      res = await this.fetch(url, headers, timeout);
    }
    if (res.ok) return res;
    const detail = await errorDetail(res);
    const what = `${this.ref.registry}/${this.ref.repository}`;
    if ((res.status === 401 || res.status === 403) && this.ref.repository === '') throw new NotFound(`${this.denied()}: ${url} answered ${res.status}${detail}${this.creds ? '' : ' (give a user name and password)'}`);
    if (res.status === 401 || res.status === 403) throw new NotFound(`pull access denied for ${what}: ${url} answered ${res.status}${detail} (the repository does not exist or needs credentials)`);
    if (res.status === 404) throw new NotFound(`${what}: ${url} answered 404 Not Found${detail}`);
    throw new Unavailable(`${what}: ${url} answered ${res.status} ${res.statusText}${detail}`);
  }

  private async fetch(url: string, headers: Record<string, string>, timeout: boolean): Promise<Response> {
    try {
      return await fetch(url, {
        headers: { ...headers, ...(this.authorization ? { Authorization: this.authorization } : {}) },
        redirect: 'follow',
        ...(timeout ? { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Unavailable(`registry ${this.ref.registry}: GET ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
  }

  /** Answers a 401's challenge: a bearer token from the realm, or Basic with the credentials. */
  private async authenticate(url: string, header: string): Promise<string> {
    const { scheme, params } = parseChallenge(header);
    const basic = this.creds && 'username' in this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` : null;
    if (scheme === 'basic') {
      if (!basic) throw new NotFound(`${this.denied()}: ${url} asks for Basic credentials and none were given`);
      return basic;
    }
    if (scheme !== 'bearer' || !params.realm) throw new Unavailable(`registry ${this.ref.registry}: ${url} answered 401 with a challenge skiff cannot answer: ${JSON.stringify(header)}`);
    const token = new URL(params.realm);
    if (params.service) token.searchParams.set('service', params.service);
    // A login asks for no scope (as Docker's does): only whether the credentials are good.
    const scope = params.scope ?? (this.ref.repository === '' ? null : `repository:${this.ref.repository}:pull`);
    if (scope !== null) token.searchParams.set('scope', scope);
    if (this.ref.repository === '' && this.creds && 'username' in this.creds) token.searchParams.set('account', this.creds.username);
    const headers: Record<string, string> = basic ? { Authorization: basic } : {};
    let res: Response;
    try {
      res = await fetch(token, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      throw new Unavailable(`registry ${this.ref.registry}: token from ${token.origin}${token.pathname}: ${(err as Error).message}`);
    }
    if (!res.ok) throw new NotFound(`${this.denied()}: the token service ${token.origin}${token.pathname} answered ${res.status}${await errorDetail(res)}`);
    const body = (await res.json()) as { token?: unknown; access_token?: unknown };
    const t = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof t !== 'string' || t === '') throw new Unavailable(`registry ${this.ref.registry}: the token service ${token.origin}${token.pathname} sent no token`);
    return `Bearer ${t}`;
  }
}

/** The registry's own words from an error body ({ errors: [{ code, message }] }), if any. */
async function errorDetail(res: Response): Promise<string> {
  try {
    const text = (await res.text()).slice(0, 2000);
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = parsed.errors?.[0];
    return e ? `: ${[e.code, e.message].filter(Boolean).join(' ')}` : '';
  } catch {
    return '';
  }
}
