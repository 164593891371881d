// What skiff-oci reports when a call fails, and where: stderr always, and the --log file in the
// format asked for. containerd's runc shim reads the last {"level":"error","msg":…} line of the
// log as the error; conmon and podman read stderr. The wording of the errors containerd and
// podman match on is runc's ("container does not exist", "container not running", …).
import { appendFileSync } from 'node:fs';

/** A failure of the call the caller made: its message is the whole error, exit status 1. */
export class OciError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OciError';
  }
}

export type LogFormat = 'text' | 'json';

export interface LogTarget {
  file: string | null;
  format: LogFormat;
  /** where errors are shown: the caller's stderr */
  stderr: (text: string) => void;
}

/** The message of a Node file error with its path and code, e.g. "open `/x/config.json`: ENOENT". */
export function fsMessage(op: string, path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return `${op} \`${path}\`: ${e.code ?? e.message}`;
}

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Writes one line at `level` to the log file (if any); errors also go to stderr. */
export function log(target: LogTarget, level: 'error' | 'warning' | 'info', msg: string): void {
  const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  if (level === 'error') target.stderr(`${msg}\n`);
  if (target.file === null) return;
  const line = target.format === 'json'
    ? JSON.stringify({ level, msg, time })
    : `time="${time}" level=${level} msg="${escapeText(msg)}"`;
  try {
    appendFileSync(target.file, `${line}\n`);
  } catch (err) {
    target.stderr(`skiff-oci: ${fsMessage('append to the log', target.file, err)}\n`);
  }
}
