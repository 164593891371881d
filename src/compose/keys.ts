// Which keys a fleet file may use at each level. Every Compose key is listed: the ones
// skiff reads, and the rest as "not supported by skiff yet" so that a Compose file never
// has part of its meaning dropped silently. A key in neither list is a typo.
import type { KeyTable } from './yaml-view.js';

const NETWORK_HINT = 'services on a fleet network reach each other by service name; publish with ports:';
const IMAGE_HINT = 'image: host, an image directory or a registry image';

export const TOP_KEYS: KeyTable = {
  // `version` is obsolete in Compose itself, which ignores it; so does skiff.
  supported: ['name', 'services', 'version', 'networks', 'x-skiff'],
  unsupported: {
    volumes: 'bind a host directory or use tmpfs instead of a named volume',
    configs: '', secrets: '', include: '', models: '',
  },
};

export const SERVICE_KEYS: KeyTable = {
  supported: ['image', 'command', 'entrypoint', 'environment', 'working_dir', 'hostname', 'volumes', 'tmpfs', 'deploy',
    'scale', 'restart', 'stop_signal', 'stop_grace_period', 'depends_on', 'network_mode', 'labels', 'tty', 'security_opt', 'cap_add', 'cap_drop', 'x-skiff',
    'networks', 'ports', 'healthcheck', 'pull_policy',
    // resources.ts
    'mem_limit', 'memswap_limit', 'mem_reservation', 'cpus', 'cpu_shares', 'cpu_quota', 'cpu_period', 'pids_limit', 'cpuset'],
  unsupported: Object.fromEntries([
    ['build', IMAGE_HINT], ['expose', NETWORK_HINT],
    ['links', NETWORK_HINT], ['external_links', NETWORK_HINT], ['dns', NETWORK_HINT], ['dns_opt', NETWORK_HINT],
    ['dns_search', NETWORK_HINT], ['extra_hosts', NETWORK_HINT], ['mac_address', NETWORK_HINT],
    ['container_name', 'replicas are named <fleet>-<service>-<n>'],
    ['env_file', 'list the variables under environment'],
    ['annotations', ''], ['attach', ''], ['blkio_config', ''],
    ['cgroup', ''], ['cgroup_parent', ''], ['configs', ''], ['cpu_count', ''], ['cpu_percent', ''],
    ['cpu_rt_period', ''], ['cpu_rt_runtime', ''],
    ['credential_spec', ''], ['develop', ''], ['device_cgroup_rules', ''], ['devices', ''], ['domainname', ''],
    ['driver_opts', ''], ['extends', ''], ['gpus', ''], ['group_add', ''], ['init', ''], ['ipc', ''], ['isolation', ''],
    ['label_file', ''], ['logging', 'see x-skiff.console'],
    ['mem_swappiness', ''], ['models', ''], ['oom_kill_disable', ''], ['oom_score_adj', ''],
    ['pid', ''], ['platform', ''], ['post_start', ''], ['pre_stop', ''], ['privileged', ''],
    ['profiles', ''], ['provider', ''], ['read_only', ''], ['runtime', ''], ['secrets', ''],
    ['shm_size', ''], ['stdin_open', ''], ['storage_opt', ''], ['sysctls', ''], ['ulimits', ''],
    ['use_api_socket', ''], ['user', ''], ['userns_mode', ''], ['uts', ''], ['volumes_from', ''],
  ]),
};

export const DEPLOY_KEYS: KeyTable = {
  supported: ['replicas', 'resources'],
  unsupported: {
    mode: '', labels: 'use the service\'s labels', restart_policy: 'use the service\'s restart',
    placement: '', update_config: '', rollback_config: '', endpoint_mode: '',
  },
};

export const VOLUME_KEYS: KeyTable = {
  supported: ['type', 'source', 'target', 'read_only', 'tmpfs'],
  unsupported: { bind: '', volume: '', image: '', consistency: '' },
};

export const VOLUME_TMPFS_KEYS: KeyTable = { supported: ['size'], unsupported: { mode: '' } };

export const DEPENDS_ON_KEYS: KeyTable = { supported: ['condition', 'required', 'restart'] };

export const X_SKIFF_KEYS: KeyTable = { supported: ['console', 'job', 'restart_on_unhealthy'] };

export const HEALTHCHECK_KEYS: KeyTable = { supported: ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'] };

/** skiff's own settings for the fleet as a whole (the top level's x-skiff) */
export const FLEET_X_SKIFF_KEYS: KeyTable = { supported: ['resources'] };

export const CONSOLE_KEYS: KeyTable = { supported: ['buffer', 'log', 'logMax'] };
