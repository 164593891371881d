// What the supervisor asks of the bridge networks (src/main/networks), at the moments of a
// container's life they concern. An interface, so the lifecycle does not import the networks.
import type { NetAttachment } from '../../net/container-plan.js';
import type { ContainerRecord } from './record.js';

/** What the supervisor asks of the networks, at the moments of a container's life they concern. */
export interface NetworkHooks {
  /** at create, before anything else exists: the address and the published ports (throws a domain error) */
  attach(r: ContainerRecord): Promise<void>;
  /** at each start: the attachment for the launcher, or undefined (network none or host) */
  launch(r: ContainerRecord, stateDir: string): NetAttachment | undefined;
  running(r: ContainerRecord): void;
  stopped(r: ContainerRecord): void;
  /** at rm: the address and ports released */
  detach(r: ContainerRecord): Promise<void>;
  /** at rename, inside its synchronous step: what the networks key by the name moves to the new one */
  renamed(oldName: string, newName: string): void;
}
