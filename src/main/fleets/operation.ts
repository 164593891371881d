// One `fleet up` or `fleet down` in progress (or the last one done): what it set out to do
// and what went wrong, for GET /fleets/{name} to report while and after it runs. It is a
// report, not state: which containers belong to a fleet is always read from their records,
// so losing this with a daemon restart loses nothing but the last report.
import type { OperationKind, OperationView, PlanCounts } from '../../api/fleets.js';

export interface DeclaredService {
  name: string;
  replicas: number;
  job: boolean;
}

export class Operation {
  state: OperationView['state'] = 'running';
  readonly startedAt = new Date().toISOString();
  finishedAt: string | null = null;
  readonly errors = new Map<string, string>();
  private readonly controller = new AbortController();

  constructor(
    readonly id: number,
    readonly kind: OperationKind,
    readonly plan: PlanCounts,
    /** the services an `up` declared, in the file's order; none for a `down` */
    readonly services: readonly DeclaredService[],
    /** the containers it removes (all of them for a `down`), counted apart while it runs */
    readonly removing: ReadonlySet<string>,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Asks the operation to stop at its next step: starts not yet begun are skipped, waits end. */
  abort(reason: string): void {
    this.controller.abort(new Error(reason));
  }

  fail(name: string, error: string): void {
    // The first reason is the real one; later ones are consequences.
    if (!this.errors.has(name)) this.errors.set(name, error);
  }

  finish(): void {
    this.state = this.aborted ? 'aborted' : 'done';
    this.finishedAt = new Date().toISOString();
  }

  view(): OperationView {
    return {
      id: this.id,
      kind: this.kind,
      state: this.state,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      plan: this.plan,
      errors: [...this.errors].map(([name, error]) => ({ name, error })),
    };
  }
}
