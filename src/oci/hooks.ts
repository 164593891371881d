// OCI hooks: each a program run with the container's state JSON on its stdin, with its own
// args (args[0] is its argv[0]), env and timeout. prestart and createRuntime run at the end of
// `create` (the init exists, stopped before its exec), poststart in `start`, poststop in
// `delete`. A failing prestart/createRuntime hook fails `create`; a failing poststart or
// poststop hook is logged, as the spec says.
import { spawnSync } from 'node:child_process';
import { OciError } from './errors.js';
import type { Hook } from './store.js';

export function runHooks(kind: string, hooks: readonly Hook[], state: Record<string, unknown>): void {
  hooks.forEach((h, i) => {
    const r = spawnSync(h.path, (h.args ?? [h.path]).slice(1), {
      argv0: h.args?.[0] ?? h.path,
      input: JSON.stringify(state),
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      timeout: h.timeout === undefined ? undefined : h.timeout * 1000,
      stdio: ['pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    const where = `hooks.${kind}[${i}] \`${h.path}\``;
    if (r.error) throw new OciError(`${where}: ${(r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `timed out after ${h.timeout} s` : r.error.message}`, { cause: r.error });
    if (r.status !== 0) {
      const why = r.signal !== null ? `was killed by ${r.signal}` : `exited with status ${r.status}`;
      throw new OciError(`${where} ${why}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
    }
  });
}
