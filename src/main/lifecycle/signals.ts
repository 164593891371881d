// Signal names and numbers as clients send them: 9, "9", "KILL", "SIGKILL", "sigterm".
import { constants as osConstants } from 'node:os';
import { InvalidArgument } from './errors.js';

const SIGNALS = osConstants.signals as Readonly<Record<string, number>>;

/** The signal's number; InvalidArgument for a name the kernel does not have or a number out of range. */
export function signalNumber(sig: string | number): number {
  const n = typeof sig === 'number' || /^\d+$/.test(sig) ? Number(sig) : SIGNALS[sigName(sig)];
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > 64) {
    throw new InvalidArgument(`unknown signal ${JSON.stringify(sig)}`, 'signal');
  }
  return n;
}

function sigName(sig: string): string {
  const upper = sig.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}
