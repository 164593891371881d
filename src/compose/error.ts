// The one error type of fleet files. Its message is what the user reads, in the form
// compilers use so that editors and terminals can jump to it:
//   fleet.yaml:12:7 services.web.deploy.replicas: expected a positive integer, got "ten"
// A problem with the file as a whole has no field (`fleet.yaml:2:1: tab …`), and one found
// before parsing has no position either (`fleet.yaml: 52428800 bytes is …`).

export interface FleetErrorLocation {
  file: string;
  /** 1-based; null when the error is about the file, not a place in it */
  line: number | null;
  column: number | null;
}

export class FleetError extends Error {
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  /** the field's path in the file, e.g. `services.web.volumes[0]`; '' for the whole file */
  readonly field: string;
  /** the message without its location, for callers that show the location their own way */
  readonly reason: string;

  constructor(at: FleetErrorLocation, field: string, reason: string, options?: ErrorOptions) {
    const where = at.line === null ? at.file : `${at.file}:${at.line}:${at.column ?? 1}`;
    super(field ? `${where} ${field}: ${reason}` : `${where}: ${reason}`, options);
    this.name = 'FleetError';
    this.file = at.file;
    this.line = at.line;
    this.column = at.column;
    this.field = field;
    this.reason = reason;
  }
}
