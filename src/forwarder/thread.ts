// A forwarder thread's entry point, run by piscina as one task that lasts until the
// hub shuts it down: it names the thread, then runs its epoll loop.
import { setThreadName } from '../sys/libc.js';
import { ForwarderLoop } from './loop.js';
import type { ThreadTask } from './protocol.js';

export default function forwarderThread(task: ThreadTask): string {
  const name = `skiff-fwd-${task.index}`;
  setThreadName(name);
  new ForwarderLoop(task).run();
  return name;
}
