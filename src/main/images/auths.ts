// Registry credentials that `skiff login` saved, for skiffd's own pulls (`skiff pull`, fleets,
// a Docker API pull that sends no X-Registry-Auth). One file in skiffd's private directory, in
// the shape of Docker's config.json `auths`: { "auths": { "<registry>": { "auth": base64(user:password) } } },
// mode 0600, rewritten whole (temp file, fdatasync, rename), so a crash leaves the old or the new.
import { closeSync, fdatasyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { DOCKER_HUB } from '../../spec/image-reference.js';
import type { Credentials } from './registry.js';

interface AuthsFile {
  auths: Record<string, { auth: string }>;
}

/**
 * The registry a login names, as references name it: `https://reg.lan:5000/v2/` → `reg.lan:5000`;
 * Docker Hub's many names (`index.docker.io`, `https://index.docker.io/v1/`, none at all) → docker.io.
 */
export function registryKey(server: string | undefined): string {
  if (server === undefined || server === '') return DOCKER_HUB;
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  if (host === '' || /[\s@]/.test(host)) throw new Error(`${JSON.stringify(server)} is not a registry address (host[:port])`);
  return ['index.docker.io', 'registry-1.docker.io', 'docker.io', 'registry.hub.docker.com'].includes(host) ? DOCKER_HUB : host;
}

export class CredentialStore {
  constructor(readonly file: string) {}

  private read(): AuthsFile {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { auths: {} };
      throw new Error(`read credentials \`${this.file}\`: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    try {
      const parsed = JSON.parse(text) as Partial<AuthsFile>;
      return { auths: typeof parsed.auths === 'object' && parsed.auths !== null ? parsed.auths : {} };
    } catch (err) {
      throw new Error(`read credentials \`${this.file}\`: not JSON: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The saved login for a registry (by its key, registryKey), or null. */
  get(registry: string): Credentials | null {
    const entry = this.read().auths[registry];
    if (!entry || typeof entry.auth !== 'string') return null;
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) return null;
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }

  set(registry: string, username: string, password: string): void {
    const f = this.read();
    f.auths[registry] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
    this.write(f);
  }

  /** Forgets a registry's login; false if there was none. */
  remove(registry: string): boolean {
    const f = this.read();
    if (!(registry in f.auths)) return false;
    delete f.auths[registry];
    this.write(f);
    return true;
  }

  private write(f: AuthsFile): void {
    const tmp = `${this.file}.tmp`;
    // 0600 from the start: the password is never readable by others, not even for a moment.
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(f, null, 2));
      fdatasyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw new Error(`write credentials \`${tmp}\`: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    closeSync(fd);
    renameSync(tmp, this.file);
  }
}
