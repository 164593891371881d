// Waiting in tests: on the event itself, never on the clock. A condition is polled until it
// holds, or a promise is raced against a deadline; either deadline is generous, so that only
// a stall reaches it (a loaded machine is slow, not stuck), and it fails naming what stalled.
//   await until(() => out.includes('ready'), 'the container to say ready');
//   const reply = await unlessStalled(d.api('GET', '/_ping'), 5000, 'GET /_ping during the flood');

/** How long a poll or a race waits by default before it calls the wait a stall. */
export const STALL_MS = 30_000;

/** Polls `fn` (every `pollMs`) until it returns a truthy value, which it returns; fails after `timeoutMs`. */
export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = STALL_MS, pollMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** `p`, or a rejection "<what> stalled" if it has not settled after `timeoutMs`. The timer never outlives the race. */
export function unlessStalled<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} stalled: nothing after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  return Promise.race([p, stalled]).finally(() => clearTimeout(timer));
}
