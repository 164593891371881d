// Installs what the test suite and benchmarks use from Debian's packages, once:
// busybox-static (a tiny rootfs for image tests), python3-docker (docker-py, a real client of
// the Docker API), docker-registry and skopeo (a local registry and pushes for the image
// tests), apache2-utils (htpasswd: a registry that wants a login), umoci, runc, crun and
// bubblewrap (benchmark references; runc is also the OCI suite's reference), containerd, podman
// and conmon (the engines that drive skiff-oci), nftables and iproute2 (networks).
// Runs before `npm test`; never needs to be done by hand.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const wanted = [
  { pkg: 'busybox-static', file: '/bin/busybox', required: true },
  { pkg: 'python3-docker', file: '/usr/lib/python3/dist-packages/docker/__init__.py', required: true },
  { pkg: 'docker-registry', file: '/usr/bin/docker-registry', required: true },
  { pkg: 'skopeo', file: '/usr/bin/skopeo', required: true },
  // htpasswd: a registry that wants a login (skiff login)
  { pkg: 'apache2-utils', file: '/usr/bin/htpasswd', required: true },
  { pkg: 'umoci', file: '/usr/bin/umoci', required: false },
  { pkg: 'runc', file: '/usr/sbin/runc', required: true },
  // skiff-oci under real engines (test/oci): containerd 1.6 with ctr and its runc v2 shim, podman 4.3 with conmon
  { pkg: 'containerd', file: '/usr/bin/containerd-shim-runc-v2', required: true },
  { pkg: 'podman', file: '/usr/bin/podman', required: true },
  { pkg: 'conmon', file: '/usr/bin/conmon', required: true },
  { pkg: 'crun', file: '/usr/bin/crun', required: false },
  { pkg: 'bubblewrap', file: '/usr/bin/bwrap', required: false },
  { pkg: 'hyperfine', file: '/usr/bin/hyperfine', required: false },
  // bridge networks: skiffd's rules (nft) and the tests' namespaces and checks (ip)
  { pkg: 'nftables', file: '/usr/sbin/nft', required: true },
  { pkg: 'iproute2', file: '/usr/sbin/ip', required: true },
  // `script`: a real pty for `docker exec -it` and `skiff exec -it` (essential in Debian; listed to say so)
  { pkg: 'bsdutils', file: '/usr/bin/script', required: true },
];
const missing = wanted.filter((w) => !existsSync(w.file));
if (missing.length === 0) process.exit(0);

const names = missing.map((m) => m.pkg);
console.error(`skiff tests: installing ${names.join(' ')} (apt-get)`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
let r = spawnSync('apt-get', ['install', '-y', '-qq', ...names], { stdio: 'inherit', env });
if (r.status !== 0) {
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  r = spawnSync('apt-get', ['install', '-y', '-qq', ...names], { stdio: 'inherit', env });
}
const stillMissing = missing.filter((m) => m.required && !existsSync(m.file));
if (stillMissing.length > 0) {
  console.error(`skiff tests: could not install ${stillMissing.map((m) => m.pkg).join(' ')}; tests need it`);
  process.exit(1);
}
