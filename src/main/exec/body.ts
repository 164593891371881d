// Docker's exec bodies, read strictly: POST /containers/{id}/exec (the exec's config) and
// POST /exec/{id}/start (Detach, Tty). A field of the wrong type is refused naming it.
import { InvalidArgument } from '../lifecycle/errors.js';
import type { ExecConfig } from './manager.js';

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgument(`${what} must be a JSON object`);
  return v as Obj;
}

function bool(b: Obj, key: string): boolean {
  const v = b[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new InvalidArgument(`${key} must be true or false, got ${JSON.stringify(v)}`, key);
  return v;
}

function str(b: Obj, key: string): string | null {
  const v = b[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw new InvalidArgument(`${key} must be a string, got ${JSON.stringify(v)}`, key);
  if (v.includes('\0')) throw new InvalidArgument(`${key} must not contain a NUL byte`, key);
  return v;
}

function strings(b: Obj, key: string): string[] {
  const v = b[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidArgument(`${key} must be an array of strings, got ${JSON.stringify(v)}`, key);
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new InvalidArgument(`${key}[${i}] must be a string, got ${JSON.stringify(x)}`, `${key}[${i}]`);
    if (x.includes('\0')) throw new InvalidArgument(`${key}[${i}] must not contain a NUL byte`, `${key}[${i}]`);
    return x;
  });
}

/** The exec create body; Privileged is refused (skiff runs nothing privileged). */
export function execConfig(body: unknown): ExecConfig {
  const b = obj(body, 'the exec body');
  const cmd = strings(b, 'Cmd');
  if (cmd.length === 0 || cmd[0] === '') throw new InvalidArgument('Cmd is empty: give the command to run (No exec command specified)', 'Cmd');
  if (bool(b, 'Privileged')) throw new InvalidArgument('Privileged: skiff runs no privileged execs (an exec has its container\'s capabilities)', 'Privileged');
  const workdir = str(b, 'WorkingDir');
  if (workdir !== null && !workdir.startsWith('/')) throw new InvalidArgument(`WorkingDir must be an absolute path, got ${JSON.stringify(workdir)}`, 'WorkingDir');
  const env = strings(b, 'Env');
  env.forEach((e, i) => {
    if (!/^[^=]+=/.test(e)) throw new InvalidArgument(`Env[${i}] must be NAME=VALUE, got ${JSON.stringify(e)}`, `Env[${i}]`);
  });
  return {
    cmd, env, workdir, user: str(b, 'User'), tty: bool(b, 'Tty'),
    attachStdin: bool(b, 'AttachStdin'), attachStdout: bool(b, 'AttachStdout'), attachStderr: bool(b, 'AttachStderr'),
    detachKeys: str(b, 'DetachKeys'),
  };
}

/** The exec start body. */
export function execStart(body: unknown): { detach: boolean } {
  const b = obj(body, 'the exec start body');
  return { detach: bool(b, 'Detach') };
}
