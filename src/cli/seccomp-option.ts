// `skiff run --seccomp default|unconfined|FILE` and `--security-opt seccomp=…`: a profile file is
// read here, on the client (as the docker CLI does for --security-opt seccomp=FILE), and sent
// parsed, with its absolute path as its source; skiffd never reads it and keeps it in the spec.
import path from 'node:path';
import { readSeccompProfileFile } from '../spec/seccomp-profile-file.js';
import { parseSeccompProfile, type SeccompProfileSpec } from '../spec/seccomp-profile.js';

/** `default`, `unconfined` (or Docker's `builtin`), or a profile file, read and parsed, relative paths from `cwd`. */
export function seccompOption(value: string, cwd = process.cwd()): 'default' | 'unconfined' | SeccompProfileSpec {
  if (value === 'default' || value === 'builtin') return 'default';
  if (value === 'unconfined') return value;
  const source = path.resolve(cwd, value);
  return { profile: parseSeccompProfile(readSeccompProfileFile(source), source), source };
}
