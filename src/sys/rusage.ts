// getrusage(2): CPU time used by this process, or by its terminated and reaped descendants.
// The start benchmark uses it to charge each runtime the CPU its whole process tree spent,
// which machine load barely changes, unlike wall-clock throughput.
import koffi from 'koffi';
import { SysError } from './errno.js';

const libc = koffi.load('libc.so.6');
const getrusage = libc.func('int getrusage(int who, _Out_ uint8_t *usage)');

export const RUSAGE_SELF = 0;
/** children that have terminated and been waited for, and their own reaped descendants */
export const RUSAGE_CHILDREN = -1;

/** struct rusage: ru_utime and ru_stime (struct timeval: two longs each) come first. */
const RUSAGE_SIZE = 144;

export interface CpuTime {
  userSeconds: number;
  systemSeconds: number;
}

export function cpuTime(who: typeof RUSAGE_SELF | typeof RUSAGE_CHILDREN): CpuTime {
  const buf = Buffer.alloc(RUSAGE_SIZE);
  if ((getrusage(who, buf) as number) < 0) throw new SysError('getrusage', koffi.errno());
  const tv = (at: number): number => Number(buf.readBigInt64LE(at)) + Number(buf.readBigInt64LE(at + 8)) / 1e6;
  return { userSeconds: tv(0), systemSeconds: tv(16) };
}
