// skiffd's own log: one JSON object per line on stderr (level, time, msg, fields).
type Level = 'debug' | 'info' | 'warn' | 'error';

export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, msg, ...fields })}\n`);
}
