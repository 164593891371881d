// What a parsed fleet file is: the input of the reconciler.
import type { ContainerSpec } from '../spec/container.js';
import type { FleetNetwork } from './networks.js';

export type DependsOnCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface FleetDependency {
  service: string;
  /** started: the dependency's replicas are running; healthy: and their health checks pass; completed_successfully: they all exited 0 */
  condition: DependsOnCondition;
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
  /** one per replica, in order: `<fleet>-<service>-1` … `-<replicas>` */
  specs: ContainerSpec[];
}

export interface Fleet {
  name: string;
  services: FleetService[];
  /** the bridge networks its services use, made by skiffd before the fleet's containers (src/compose/networks.ts) */
  networks: FleetNetwork[];
}
