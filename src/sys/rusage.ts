// getrusage(2): CPU time used by this process, the calling thread, or by its terminated and reaped descendants.
// The start benchmark uses it to charge each runtime the CPU its whole process tree spent,
// which machine load barely changes, unlike wall-clock throughput.
import { c, check } from './libc-handle.js';
import type { RUSAGE_CHILDREN, RUSAGE_SELF, RUSAGE_THREAD } from './constants.js';

/** struct rusage: ru_utime and ru_stime (struct timeval: two longs each) come first. */
const RUSAGE_SIZE = 144;

export interface CpuTime {
  userSeconds: number;
  systemSeconds: number;
}

export function cpuTime(who: typeof RUSAGE_SELF | typeof RUSAGE_CHILDREN | typeof RUSAGE_THREAD): CpuTime {
  const buf = Buffer.alloc(RUSAGE_SIZE);
  check(c.getrusage(who, buf), 'getrusage');
  const tv = (at: number): number => Number(buf.readBigInt64LE(at)) + Number(buf.readBigInt64LE(at + 8)) / 1e6;
  return { userSeconds: tv(0), systemSeconds: tv(16) };
}
