// What a caught value says, for the many places that catch `unknown`: an Error's message,
// else the value as text (JSON for objects, so never "[object Object]").
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? typeof err;
  } catch {
    return typeof err;
  }
}

/** The caught value as an Error (for rejecting a promise with it). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err));
}
