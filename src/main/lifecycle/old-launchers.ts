// The launcher workers of the skiffd that had this state dir before, if it died. A launcher
// blocked in a launch (vfork) answers nothing until its PID 1 has exec'd; only then does it see
// that skiffd is gone and exit. So once the old launchers are gone, every start that was in
// flight at the crash has a PID 1 in its container's cgroup, where restore finds and adopts it
// (orphans.ts). Their pids (with their start times: a pid alone may have been reused) are
// kept in `<state>/.skiffd/launchers`, rewritten whenever the pool changes.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { POLLIN } from '../../sys/constants.js';
import { close, pidfdOpen, pollNow } from '../../sys/libc.js';
import { liveStartTime } from '../../sys/proc.js';
import { log } from '../log.js';

export function recordLaunchers(path: string, pids: number[]): void {
  const lines = pids.flatMap((pid) => {
    const start = liveStartTime(pid);
    return start === null ? [] : [`${pid} ${start}\n`];
  });
  writeFileSync(`${path}.tmp`, lines.join(''), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** Waits (at most `timeoutMs` in all) for the launchers listed in `path` that still run to exit. */
export function waitForOldLaunchers(path: string, timeoutMs: number): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return; // no earlier skiffd, or one from before this file
  }
  const deadline = Date.now() + timeoutMs;
  for (const line of text.split('\n')) {
    const [pid, start] = line.split(' ').map(Number) as [number, number];
    if (!Number.isInteger(pid) || pid <= 0 || liveStartTime(pid) !== start) continue;
    let fd: number;
    try {
      fd = pidfdOpen(pid);
    } catch {
      continue; // gone meanwhile
    }
    try {
      // The start time again, now that the pidfd pins the process: it is the launcher, not a reuse of its pid.
      if (liveStartTime(pid) !== start) continue;
      log('info', 'waiting for a launcher of the previous skiffd to finish its start', { pid });
      if (pollNow(fd, POLLIN, Math.max(0, deadline - Date.now())) === 0) {
        log('warn', 'a launcher of the previous skiffd is still running; starting without waiting longer', { pid });
      }
    } finally {
      close(fd);
    }
  }
}
