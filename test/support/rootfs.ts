// A minimal busybox rootfs in a directory: /bin/busybox (static) and a symlink per applet the
// tests use, plus the directories a container's root needs (proc dev sys tmp etc).
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'ps', 'hostname', 'id', 'env', 'pwd', 'touch', 'sleep', 'true', 'false',
  'stat', 'readlink', 'mkdir', 'rm', 'tty', 'test', 'kill', 'grep', 'wc', 'sort', 'tr', 'head', 'tail', 'cut', 'df'];

/** Builds the rootfs in `dir` (which must exist, usually a TempDirs directory) and returns `dir`. */
export function buildBusyboxRootfs(dir: string): string {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install busybox-static (npm run test:deps does)`);
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'root']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
  return dir;
}
