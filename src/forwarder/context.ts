// What every console of one forwarder thread shares: the thread's epoll set, its buffers, its
// settings, and the way back to the main side for what no request waits on.
import type { Scratch } from './ring.js';

/** What every console of a thread shares. */
export interface ThreadContext {
  devNull: number;
  /** the read/write fallback's one buffer */
  copyBuffer: Buffer;
  /** grows to the largest ring, for packing */
  scratch: Scratch;
  spliceTty: boolean;
  clientBacklog: number;
  /** the thread's epoll set: a console registers its own fds, with data = token × 4 + slot */
  epfd: number;
  /** tells the main thread about a failure no request is waiting for */
  report(id: string, message: string): void;
  /** a client's losses grew: the loop tells the main thread (coalesced, before its next reply) */
  lost(id: string, client: number, dropped: number): void;
}
