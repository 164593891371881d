// An image's config applied to a container as Docker applies it (moby's merge of the create
// body with the image config). Pure.
import type { ImageForRun } from './lookup.js';

type RunConfig = ImageForRun['config'];

/**
 * The command: an Entrypoint the caller gave replaces the image's and drops its Cmd; otherwise
 * the image's Entrypoint (unless the caller sent an explicit empty one) and the caller's Cmd or
 * else the image's.
 */
export function imageCommand(config: RunConfig, entrypoint: string[] | undefined, cmd: string[] | undefined): string[] {
  if (entrypoint !== undefined && entrypoint.length > 0) return [...entrypoint, ...(cmd ?? [])];
  const args = cmd !== undefined && cmd.length > 0 ? cmd : config.Cmd ?? [];
  const ep = entrypoint === undefined ? config.Entrypoint ?? [] : [];
  return [...ep, ...args];
}

/** The image's environment with the caller's variables over it (same name: the caller's wins). */
export function imageEnv(config: RunConfig, env: string[]): string[] {
  const key = (e: string) => e.split('=')[0]!;
  const mine = new Set(env.map(key));
  return [...(config.Env ?? []).filter((e) => !mine.has(key(e))), ...env];
}

export function imageLabels(config: RunConfig, labels: unknown): Record<string, unknown> {
  return { ...(config.Labels ?? {}), ...(typeof labels === 'object' && labels !== null ? labels : {}) };
}
