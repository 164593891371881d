// Container records → the JSON shapes of Docker's API (list and inspect). Pure.
import { formatRestart } from '../../spec/container.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import { networkSettings, portBindings, type EndpointInfo } from './network-shape.js';
import { dockerHealth, dockerHealthcheck, healthSuffix } from './health.js';

/** Docker's humanized durations ("Less than a second", "5 seconds", "About a minute", "3 hours"…). */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

export function dockerState(r: ContainerRecord): string {
  switch (r.status) {
    case 'queued':
    case 'starting':
    case 'created':
      return 'created';
    case 'running':
      return 'running';
    case 'restarting':
      return 'restarting';
    case 'failed':
    case 'exited':
      return 'exited';
    case 'removed':
      return 'removing';
  }
}

export function statusText(r: ContainerRecord, now = Date.now()): string {
  const since = (t: string | null) => humanDuration(now - Date.parse(t ?? r.createdAt));
  switch (r.status) {
    case 'running': return `Up ${since(r.startedAt)}${healthSuffix(r)}`;
    case 'exited':
    case 'failed': return `Exited (${r.exitCode ?? -1})${r.oomKilled ? ' (OOM killed)' : ''} ${since(r.finishedAt)} ago`;
    case 'restarting': return `Restarting (${r.exitCode ?? -1}) ${since(r.finishedAt)} ago`;
    case 'queued': return 'Created (queued)';
    case 'starting': return 'Created (starting)';
    case 'created': return 'Created';
    case 'removed': return 'Removal In Progress';
  }
}

function image(r: ContainerRecord): string {
  return r.spec.fromImage?.ref ?? r.spec.image ?? r.spec.rootfs;
}

function quoteCommand(argv: string[]): string {
  return argv.map((a) => (/[\s"'\\]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/** HostConfig.SecurityOpt as Docker shows it; a profile by the file it came from (Docker shows its whole JSON). */
function securityOpt(spec: ContainerRecord['spec']): string[] | null {
  const opts: string[] = [];
  if (spec.seccomp === 'unconfined') opts.push('seccomp=unconfined');
  else if (spec.seccomp !== 'default') opts.push(`seccomp=${spec.seccomp.source}`);
  if (spec.noNewPrivileges) opts.push('no-new-privileges');
  return opts.length ? opts : null;
}

function mounts(r: ContainerRecord): object[] {
  return r.spec.mounts.map((m) => m.type === 'bind'
    ? { Type: 'bind', Source: m.source, Destination: m.target, Mode: m.readOnly ? 'ro' : '', RW: !m.readOnly, Propagation: 'rprivate' }
    : { Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW: true, Propagation: '' });
}

/**
 * HostConfig.LogConfig, told honestly in Docker's terms. skiffd keeps each container's recent
 * output in a ring (its size in bytes) and, with console.log on, in a file rotated at a size
 * into one previous file. Reading it back is `logs`, as with Docker's json-file driver, whose
 * name clients check before they read logs (docker-py's run reads them only for json-file).
 */
export function logConfig(spec: ContainerRecord['spec'], logPath: string | null): { Type: string; Config: Record<string, string> } {
  const config: Record<string, string> = { 'skiff-ring-bytes': String(spec.console.buffer) };
  if (logPath !== null) Object.assign(config, { 'skiff-file': logPath, 'max-size': String(spec.console.logMax), 'max-file': '2' });
  return { Type: 'json-file', Config: config };
}

/** The console log file skiffd writes for this container, if any (console.log: true puts it in the state dir). */
/** The console log's path for LogConfig and LogPath (one definition, in the lifecycle's console holds). */
export { consoleLogPath as logPath } from '../lifecycle/console-holds.js';

/** NetworkSettings.Networks: a container is on Docker's "none" or "host" network, with no address of its own. */
function networks(r: ContainerRecord): Record<string, object> {
  return {
    [r.spec.network]: {
      IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, NetworkID: r.spec.network, EndpointID: '',
      Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
    },
  };
}

/** HostConfig's resource fields as Docker shows them: 0 for "not set". */
function hostResources(r: ContainerRecord): object {
  const res = r.spec.resources;
  return {
    Memory: res.memory ?? 0, MemorySwap: res.memorySwap ?? 0, MemoryReservation: res.memoryReservation ?? 0,
    NanoCpus: 0, CpuQuota: res.cpuQuota ?? 0, CpuPeriod: res.cpuPeriod ?? 0, CpuShares: res.cpuShares ?? 0,
    PidsLimit: res.pidsLimit, CpusetCpus: res.cpusetCpus ?? '', CpusetMems: res.cpusetMems ?? '',
    CgroupParent: '', OomKillDisable: false,
  };
}

/** One entry of GET /containers/json. */
export function toListEntry(r: ContainerRecord): object {
  return {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: image(r),
    ImageID: r.spec.fromImage?.id ?? '',
    Command: quoteCommand(r.spec.command),
    Created: Math.floor(Date.parse(r.createdAt) / 1000),
    Ports: [],
    Labels: r.spec.labels,
    State: dockerState(r),
    Status: statusText(r),
    HostConfig: { NetworkMode: r.spec.network },
    NetworkSettings: { Networks: networks(r) },
    Mounts: mounts(r),
    // skiff's own, beside Docker's
    Pid: r.pid ?? 0,
    SkiffStatus: r.status,
  };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** GET /containers/{id}/json. */
export function toInspect(r: ContainerRecord, extra: { console?: object; logPath?: string | null; endpoint?: EndpointInfo | null } = {}): object {
  const { logPath = null, endpoint = null, ...skiffExtra } = extra;
  const state = dockerState(r);
  return {
    Id: r.id,
    Created: r.createdAt,
    Path: r.spec.command[0],
    Args: r.spec.command.slice(1),
    State: {
      Status: state,
      Running: state === 'running',
      Paused: false,
      Restarting: state === 'restarting',
      OOMKilled: r.oomKilled ?? false,
      Dead: false,
      Pid: r.pid ?? 0,
      ExitCode: r.exitCode ?? 0,
      Error: r.error ?? '',
      StartedAt: r.startedAt ?? ZERO_TIME,
      FinishedAt: r.finishedAt ?? ZERO_TIME,
      Health: dockerHealth(r),
    },
    Image: r.spec.fromImage?.id ?? image(r),
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: logPath ?? '',
    Name: `/${r.name}`,
    RestartCount: r.restartCount,
    Driver: r.spec.image !== null || r.spec.fromImage !== null ? 'overlay' : 'bind',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: r.spec.mounts.filter((m) => m.type === 'bind').map((m) => m.type === 'bind' ? `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}` : ''),
      NetworkMode: r.spec.network,
      LogConfig: logConfig(r.spec, logPath),
      PortBindings: portBindings(r.spec),
      VolumesFrom: null,
      Privileged: false,
      ReadonlyRootfs: r.spec.rootfs === 'host' && r.spec.image === null && r.spec.fromImage === null,
      IpcMode: 'private',
      PidMode: '',
      UTSMode: '',
      ShmSize: 64 << 20,
      RestartPolicy: { Name: r.spec.restart.name, MaximumRetryCount: r.spec.restart.name === 'on-failure' ? r.spec.restart.maxRetries ?? 0 : 0 },
      AutoRemove: r.autoRemove,
      CapAdd: r.spec.capabilities.add.length ? r.spec.capabilities.add : null,
      CapDrop: r.spec.capabilities.drop.length ? r.spec.capabilities.drop : null,
      SecurityOpt: securityOpt(r.spec),
      Tmpfs: Object.fromEntries(r.spec.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.target, m.type === 'tmpfs' && m.size ? `size=${m.size}` : ''])),
      ...hostResources(r),
    },
    Mounts: mounts(r),
    Config: {
      Hostname: r.spec.hostname,
      Domainname: '',
      User: r.spec.user ? `${r.spec.user.uid}:${r.spec.user.gid}` : '',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: r.spec.tty,
      OpenStdin: r.spec.openStdin,
      StdinOnce: r.spec.stdinOnce,
      Env: r.spec.env,
      Cmd: r.spec.command,
      Image: image(r),
      Volumes: null,
      WorkingDir: r.spec.workdir,
      Entrypoint: null,
      OnBuild: null,
      Labels: r.spec.labels,
      StopSignal: r.spec.stopSignal,
      StopTimeout: r.spec.stopTimeout,
      Healthcheck: dockerHealthcheck(r.spec.healthcheck),
    },
    NetworkSettings: networkSettings(r.spec, endpoint),
    // skiff's own, beside Docker's
    Skiff: {
      Status: r.status,
      Spec: r.spec,
      Restart: formatRestart(r.spec.restart),
      Failure: r.failure,
      Signal: r.signal,
      Fleet: r.fleet,
      ...skiffExtra,
    },
  };
}
