// What can go wrong with a container, in the lifecycle's own words. These say nothing of
// HTTP: src/main/http/errors.ts maps each kind to a status, in one place, and fleet
// reconcile reads the kinds (a full queue is back-pressure, a missing container is gone).
import type { StartFailure } from '../../workers/start.js';

/** Extra fields for the API's error body (e.g. the failed operation of a start). */
export type ErrorDetails = Record<string, unknown>;

export abstract class LifecycleError extends Error {
  constructor(message: string, readonly details: ErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
  }
}

/** No container (or fleet) by that name or id. */
export class NotFound extends LifecycleError {}

/** The request contradicts the container's state: a name in use, removing a running one. */
export class Conflict extends LifecycleError {}

/** A value the caller gave cannot be used: an unknown signal, an ambiguous id prefix. */
export class InvalidArgument extends LifecycleError {
  /** the request field that was wrong, when there is one (`HostConfig.CapAdd[0]`) */
  constructor(message: string, readonly field?: string, details: ErrorDetails = {}) {
    super(message, field === undefined ? details : { field, ...details });
  }
}

/** The start queue is at its bound: retry later. Never waits behind an unbounded backlog. */
export class QueueFull extends LifecycleError {}

/** This skiffd lacks the part the request needs (it runs without a console forwarder). */
export class Unsupported extends LifecycleError {}

/** skiffd could not do it now for a reason of its own (its console forwarder, its state dir). */
export class Unavailable extends LifecycleError {}

/** The launch failed: the init was not found (127), not runnable (126), or skiff failed (125). */
export class StartFailed extends LifecycleError {
  constructor(readonly failure: StartFailure) {
    super(failure.message, { ...failure });
  }

  /** The command itself was at fault, not skiff: the caller's to fix. */
  get byCommand(): boolean {
    return this.failure.exitCode === 126 || this.failure.exitCode === 127;
  }
}
