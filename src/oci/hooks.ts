// OCI hooks: each a program run with the container's state JSON on its stdin, with its own
// args (args[0] is its argv[0]), env and timeout, from the caller's working directory. prestart
// and createRuntime run at the end of `create` (the init exists, stopped before its exec),
// poststart in `start`, poststop in `delete`. A failing prestart/createRuntime hook fails
// `create`; a failing poststart or poststop hook is logged, as the spec says. Asynchronous:
// in the server, other calls (a hook's own `skiff-oci state`, say) go on while a hook runs.
import { spawn } from 'node:child_process';
import { OciError } from './errors.js';
import type { Hook } from './store.js';

interface HookExit { code: number | null; signal: NodeJS.Signals | null; stderr: string; error: NodeJS.ErrnoException | null; timedOut: boolean }

function runOne(h: Hook, state: Record<string, unknown>, cwd: string): Promise<HookExit> {
  return new Promise((resolve) => {
    const child = spawn(h.path, (h.args ?? [h.path]).slice(1), {
      argv0: h.args?.[0] ?? h.path,
      cwd,
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    let error: NodeJS.ErrnoException | null = null;
    let timedOut = false;
    const timer = h.timeout === undefined ? null : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, h.timeout * 1000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    // A hook that does not read its stdin is no error of its own.
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(state));
    child.on('error', (err) => { error = err; });
    child.on('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer);
      resolve({ code, signal, stderr, error, timedOut });
    });
  });
}

export async function runHooks(kind: string, hooks: readonly Hook[], state: Record<string, unknown>, cwd: string): Promise<void> {
  for (const [i, h] of hooks.entries()) {
    const r = await runOne(h, state, cwd);
    const where = `hooks.${kind}[${i}] \`${h.path}\``;
    if (r.error) throw new OciError(`${where}: ${r.error.message}`, { cause: r.error });
    if (r.timedOut) throw new OciError(`${where}: timed out after ${h.timeout} s`);
    if (r.code !== 0) {
      const why = r.signal !== null ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
      throw new OciError(`${where} ${why}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
    }
  }
}
