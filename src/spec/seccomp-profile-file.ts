// Reading a seccomp profile file, for the CLI (`skiff run --seccomp FILE`) and the fleet loader
// (`security_opt: [seccomp=FILE]`): bounded, UTF-8, errors naming the file. skiffd never reads
// profile files; it gets their content in the spec.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MAX_PROFILE_BYTES, SeccompProfileError } from './seccomp-profile.js';

/**
 * A profile file's text, bounded (a huge or endless file is refused, not read whole). Errors are
 * SeccompProfileErrors naming the file: `seccomp profile /x/p.json: cannot read: ENOENT`.
 */
export function readSeccompProfileFile(file: string): string {
  const fail = (reason: string, cause?: unknown): never => {
    throw new SeccompProfileError(file, '', reason, { cause });
  };
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return fail(`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
  try {
    if (fstatSync(fd).isDirectory()) fail('is a directory, not a profile');
    const buf = Buffer.alloc(MAX_PROFILE_BYTES + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_PROFILE_BYTES) fail(`is larger than ${MAX_PROFILE_BYTES} bytes`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n));
    } catch (err) {
      return fail('is not UTF-8 text', err);
    }
  } finally {
    closeSync(fd);
  }
}
