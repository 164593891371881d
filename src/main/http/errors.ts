// The one place where what went wrong becomes an HTTP status and Docker's error body
// ({ "message": …, plus details such as the failed field or launch operation }).
import { errorMessage } from '../../api/errors.js';
import type { ServerResponse } from 'node:http';
import { CreateError } from '../docker/create.js';
import { Conflict, InvalidArgument, LifecycleError, NotFound, QueueFull, StartFailed, Unavailable, Unsupported } from '../lifecycle/errors.js';
import { send } from './respond.js';

/** A request that is wrong as HTTP, before any domain code sees it: no such path, a bad body or query. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

function lifecycleStatus(err: LifecycleError): number {
  if (err instanceof NotFound) return 404;
  if (err instanceof Conflict) return 409;
  if (err instanceof InvalidArgument) return 400;
  if (err instanceof QueueFull) return 429;
  if (err instanceof StartFailed) return err.byCommand ? 400 : 500;
  if (err instanceof Unsupported) return 501;
  if (err instanceof Unavailable) return 503;
  return 500;
}

/** What an error answers: its status and Docker's error body. */
export function errorAnswer(err: unknown): { status: number; body: Record<string, unknown> } {
  if (err instanceof HttpError) return { status: err.status, body: { message: err.message } };
  if (err instanceof LifecycleError) return { status: lifecycleStatus(err), body: { message: err.message, ...err.details } };
  if (err instanceof CreateError) return { status: 400, body: { message: err.message, field: err.field } };
  // A URIError is a path segment with broken percent-encoding: the client's mistake.
  if (err instanceof URIError) return { status: 400, body: { message: `malformed percent-encoding in the path: ${err.message}` } };
  return { status: 500, body: { message: errorMessage(err) } };
}

export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = errorAnswer(err);
  send(res, status, body);
}
