// `skiff-oci features`: what this runtime implements, in the OCI runtime spec 1.1 features
// format, so that an engine can tell before it asks.
import { HOOK_KINDS, NAMESPACE_TYPES } from './config.js';
import { MOUNT_OPTIONS } from './mounts.js';
import { CAPABILITY_NUMBERS } from '../spec/capabilities.js';
import { SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPS } from '../spec/seccomp-profile.js';
import { SPEC_VERSION } from './main.js';

export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: SPEC_VERSION,
    hooks: HOOK_KINDS.filter((k) => k !== 'createContainer' && k !== 'startContainer'),
    mountOptions: MOUNT_OPTIONS,
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: Object.keys(CAPABILITY_NUMBERS),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPS],
        archs: SECCOMP_ARCHES.filter((a) => a === 'SCMP_ARCH_X86_64'),
        knownFlags: Object.keys(SECCOMP_FLAGS),
        supportedFlags: Object.keys(SECCOMP_FLAGS),
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { 'org.opencontainers.runtime-spec.features': SPEC_VERSION, 'io.github.skiff.runtime': 'skiff-oci' },
  };
}
