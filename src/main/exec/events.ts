// An exec's events on /events, as dockerd emits them: `exec_create: CMD` and `exec_start: CMD`
// with the exec's id (execID), then `exec_die` with its exitCode. CMD is Docker's entrypoint, a
// space and its arguments joined by spaces (so `exec_start: tty ` ends with a space, as Docker's
// does). Health probes are execs in Docker too and emit the same three.
import type { EventBus } from '../events.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { Supervisor } from '../lifecycle/supervisor.js';

export type ExecEventKind = 'exec_create' | 'exec_start';

/** Docker's action text: `exec_create: ls -l /`. */
export function execAction(kind: ExecEventKind, cmd: readonly string[]): string {
  return `${kind}: ${cmd[0] ?? ''} ${cmd.slice(1).join(' ')}`;
}

export class ExecEvents {
  constructor(private readonly bus: EventBus, private readonly supervisor: Supervisor) {}

  /** exec_create or exec_start; skipped quietly if the container went meanwhile (its destroy says so). */
  emit(kind: ExecEventKind, containerId: string, execId: string, cmd: readonly string[]): void {
    const r = this.record(containerId);
    if (r) this.bus.emit(execAction(kind, cmd), this.supervisor.actor(r), { execID: execId });
  }

  /** exec_die: once per started exec, with the exit code it recorded (126/127 for one that could not run). */
  died(containerId: string, execId: string, exitCode: number): void {
    const r = this.record(containerId);
    if (r) this.bus.emit('exec_die', this.supervisor.actor(r), { execID: execId, exitCode: String(exitCode) });
  }

  private record(id: string): ContainerRecord | null {
    try {
      return this.supervisor.get(id);
    } catch {
      return null;
    }
  }
}
