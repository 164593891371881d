// The one exhaustiveness check for every switch over a union: a protocol's messages (launcher
// IPC, the forwarder's port), a plan's operations, a profile's actions. TypeScript proves at
// compile time that no case is missing (the value's type is `never`); at run time a value from
// outside the types (a peer built from other sources, a cast) still ends here, and the error
// says which switch it reached and what came.

export class UnexpectedValueError extends Error {
  /** what came, as it came */
  readonly value: unknown;
  constructor(what: string, value: unknown) {
    super(`${what}: unexpected ${describe(value)}`);
    this.name = 'UnexpectedValueError';
    this.value = value;
  }
}

/** Throws UnexpectedValueError; `what` names the switch ("launcher IPC: message from skiffd"). */
export function unreachable(value: never, what: string): never {
  throw new UnexpectedValueError(what, value);
}

const MAX_SHOWN = 200;

/** JSON where it can be (bigints as 12n), cut to a readable length. */
function describe(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    text = String(value); // circular
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}
