// The koffi binding of src/native/forward.c's skiff_fwd_round: one forwarder round (the source
// into staging, staging to each client's backlog and pipe, then into the ring) in one native
// call, where the TypeScript round took 8–9 calls through koffi of a few µs each. The words of
// `io` are forward.c's layout; console.ts fills them (which fds, how many bytes: the policy stays
// there) and goes on from the step the native round stopped at, if it stopped early.
//
// SKIFF_NATIVE_ROUND=0 turns it off (every round in TypeScript, as before): for measuring one
// against the other in the same build, and for tests that cover both.
import koffi from 'koffi';
import { LIBRARY_PATH } from '../native/launch.js';

export const IO = {
  SRC: 0,
  STAGE_R: 1,
  STAGE_W: 2,
  STAGE_SLOTS: 3,
  CHUNK: 4,
  DEVNULL: 5,
  NCLIENTS: 6,
  RING_TAIL_W: 7,
  RING_HEAD_R: 8,
  RING_HEAD_BYTES: 9,
  RING_STORED: 10,
  RING_LIMIT: 11,
  RING_SLACK: 12,
  ROUND: 13,
  LAST: 14,
  USED_SLOTS: 15,
  STOP: 16,
  STOP_RESULT: 17,
  RING_DROPPED: 18,
  RING_MOVED: 19,
  CLIENTS: 24,
} as const;

/** one client's words, at IO.CLIENTS + i × CLIENT_WORDS */
export const CLIENT = {
  SEG_W: 0,
  SEG_R: 1,
  PIPE: 2,
  HEADER: 3,
  SEG_BYTES: 4,
  FLUSHED_BEFORE: 5,
  HEADER_DONE: 6,
  TEED: 7,
  FLUSHED_AFTER: 8,
  PIPE_FULL: 9,
} as const;
export const CLIENT_WORDS = 12;

/** IO.STOP: every step ran; a client's step is STEP_* + 8 × its index */
export const STOP_NONE = -1;
export const STOP_RING_DROP = -2;
export const STOP_RING_SPLICE = -3;
/** nothing staged (the source was empty, ended or failed: IO.LAST says which) */
export const STOP_STAGE = -4;
export const STEP_FLUSH_BEFORE = 0;
export const STEP_HEADER = 1;
export const STEP_TEE = 2;
export const STEP_FLUSH_AFTER = 3;

/** clients one native round serves; a console with more takes the TypeScript round */
export const MAX_NATIVE_CLIENTS = 16;

export interface NativeRound {
  /** shared with the native side: inputs, then results */
  readonly io: Int32Array;
  /** runs a round over io; the header (if any client is framed) gets the round's length */
  run(header: Buffer | null): number;
}

let fn: koffi.KoffiFunction | null | undefined;

/** The native round, or null when turned off (SKIFF_NATIVE_ROUND=0). One per thread: io is reused. */
export function nativeRound(): NativeRound | null {
  if (process.env.SKIFF_NATIVE_ROUND === '0') return null;
  fn ??= koffi.load(LIBRARY_PATH).func('int skiff_fwd_round(int32_t *io, uint8_t *hdr)');
  const f = fn;
  const io = new Int32Array(IO.CLIENTS + MAX_NATIVE_CLIENTS * CLIENT_WORDS);
  return { io, run: (header) => f(io, header) as number };
}
