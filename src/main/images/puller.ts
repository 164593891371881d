// How skiffd reaches registries, in one place for every caller (POST /images/create, fleets,
// POST /auth): which registries speak plain HTTP, whose credentials to send (the caller's
// X-Registry-Auth, else those `skiff login` saved), and a pull by policy that fleets use.
import { NotFound } from '../lifecycle/errors.js';
import { formatReference, parseReference, type Reference } from '../../spec/image-reference.js';
import type { PullPolicy } from '../../compose/types.js';
import { registryKey, type CredentialStore } from './auths.js';
import { findImage } from './lookup.js';
import { pull, resolve, type PullOptions, type PullProgress } from './pull.js';
import { RegistryClient, type Credentials } from './registry.js';
import type { ImageRecord, ImageStore } from './store.js';

export class Puller {
  /** pulls by policy in flight, by canonical name: two services of one image pull it once */
  private readonly ensuring = new Map<string, Promise<ImageRecord>>();

  constructor(private readonly store: ImageStore, private readonly insecure: ReadonlySet<string>, readonly credentials: CredentialStore) {}

  /** The options of a pull from `ref`'s registry: the caller's credentials, else the saved ones. */
  options(ref: Reference, explicit: Credentials | null, onProgress?: (p: PullProgress) => void): PullOptions {
    return { insecure: this.insecure, credentials: explicit ?? this.credentials.get(ref.registry), ...(onProgress ? { onProgress } : {}) };
  }

  /**
   * The stored image `text` names, pulled first as `policy` says: `always` pulls (a registry's
   * newer image replaces the tag), `missing` pulls only what is not stored, `never` never does.
   */
  ensure(text: string, policy: PullPolicy): Promise<ImageRecord> {
    const ref = parseReference(text);
    const name = formatReference(ref);
    const key = `${policy} ${name}`;
    const running = this.ensuring.get(key);
    if (running) return running;
    const p = this.ensureOnce(ref, name, policy).finally(() => this.ensuring.delete(key));
    this.ensuring.set(key, p);
    return p;
  }

  private async ensureOnce(ref: Reference, name: string, policy: PullPolicy): Promise<ImageRecord> {
    if (policy !== 'always') {
      const have = findImage(this.store, name);
      if (have) return have;
      if (policy === 'never') throw new NotFound(`image ${name} is not stored and its pull_policy is never: pull it first (skiff pull ${name})`);
    }
    const o = this.options(ref, null);
    return pull(this.store, ref, await resolve(ref, o), o);
  }

  /**
   * `skiff login`, `docker login` (POST /auth): the credentials are checked against the
   * registry (GET /v2/ through its challenge, as Docker does) and saved only if it accepts them.
   */
  async login(server: string | undefined, username: string, password: string): Promise<string> {
    const registry = registryKey(server);
    const client = new RegistryClient({ registry, repository: '', tag: null, digest: null }, this.insecure, { username, password });
    await client.ping();
    this.credentials.set(registry, username, password);
    return registry;
  }
}
