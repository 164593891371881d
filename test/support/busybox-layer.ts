// Tar entries for a busybox root filesystem: the first layer of test images.
import { readFileSync } from 'node:fs';
import type { TarEntry } from './tar.js';

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'id', 'env', 'pwd', 'stat', 'test', 'true', 'sleep', 'readlink'];

export function busyboxLayer(extra: TarEntry[] = []): TarEntry[] {
  return [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: readFileSync('/bin/busybox'), mode: 0o755 },
    ...APPLETS.map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
    { name: 'etc/group', body: 'root:x:0:\napp:x:1000:\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    ...extra,
  ];
}
