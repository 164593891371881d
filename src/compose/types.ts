// What a parsed fleet file is: the input of the reconciler.
import type { ContainerSpec } from '../spec/container.js';
import type { TemplateShape } from './replicas.js';
import type { FleetNetwork } from './networks.js';
import type { ResourcesSpec } from '../spec/resources.js';

export type DependsOnCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface FleetDependency {
  service: string;
  /** started: the dependency's replicas are running; healthy: and their health checks pass; completed_successfully: they all exited 0 */
  condition: DependsOnCondition;
}

export type PullPolicy = 'always' | 'missing' | 'never';

/**
 * A service's registry image (src/compose/image.ts): the reference, when to pull it, and what
 * the service itself sets of what the image's config also gives. skiffd pulls it and merges
 * the two (the service's win) into each replica's spec before anything is created.
 */
export interface FleetImage {
  /** canonical: registry/repository:tag or @digest */
  ref: string;
  pullPolicy: PullPolicy;
  /** Compose's entrypoint and command, as Docker's Entrypoint and Cmd (null: not set) */
  entrypoint: string[] | null;
  command: string[] | null;
  /** working_dir (null: the image's WorkingDir, else /) */
  workdir: string | null;
  /** the service's environment (the image's Env is under it) */
  env: string[];
  /** stop_signal (null: the image's StopSignal, else SIGTERM) */
  stopSignal: string | null;
  /**
   * The image's Healthcheck applies: the service has no `healthcheck:` of its own (one with
   * `disable: true` or `test: [NONE]` turns the image's off, as in Compose and Docker).
   */
  imageHealthcheck: boolean;
}

export interface FleetService {
  name: string;
  replicas: number;
  /** a batch job, expected to exit (x-skiff.job) */
  job: boolean;
  dependsOn: FleetDependency[];
  /**
   * Hash of the service's normalized definition, the same for every replica and
   * independent of the replica count; also each spec's `skiff.config-hash` label.
   */
  configHash: string;
  /**
   * validateSpec's input less what differs per replica (src/compose/replicas.ts): what POST
   * /fleets carries, one per service, for skiffd to make the replicas from
   */
  template: TemplateShape;
  /** x-skiff.console.log given as a directory: each replica logs to `<dir>/<replica name>.log` */
  logDir: string | null;
  /** one per replica, in order: `<fleet>-<service>-1` … `-<replicas>` */
  specs: ContainerSpec[];
  /** a registry image, whose config skiffd merges into the specs; null for host or a directory */
  image: FleetImage | null;
}

export interface Fleet {
  name: string;
  services: FleetService[];
  /** the bridge networks its services use, made by skiffd before the fleet's containers (src/compose/networks.ts) */
  networks: FleetNetwork[];
  /** limits on the fleet as a whole (x-skiff.resources), on its cgroup level; null: none */
  resources: ResourcesSpec | null;
}
