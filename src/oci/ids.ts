// Container ids and signal names as the runtime command line takes them.
import { constants } from 'node:os';
import { OciError } from './errors.js';

/** runc's rule: letters, digits, `_ + - .`, not `.` or `..` (an id is a directory name under --root). */
export function checkId(id: string | undefined): string {
  if (id === undefined || id === '') throw new OciError('container id cannot be empty');
  if (!/^[\w+.-]+$/.test(id) || id === '.' || id === '..' || id.length > 1024) throw new OciError(`invalid container ID format: ${JSON.stringify(id)}`);
  return id;
}

/** A signal as a number (`9`), a name (`KILL`) or a full name (`SIGKILL`). */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
    throw new OciError(`invalid signal ${JSON.stringify(text)}: not between 1 and 64`);
  }
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new OciError(`invalid signal ${JSON.stringify(text)}: unknown signal name`);
  return n;
}
