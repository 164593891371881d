// The event stream of /events: every container state change, in Docker's event shape.
import { EventEmitter } from 'node:events';

export interface DockerEvent {
  status: string;
  id: string;
  from: string;
  Type: 'container';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly recent: DockerEvent[] = [];
  private static readonly KEEP = 1000;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Docker's attributes: the container's labels, then its name and image, then the action's own (exitCode, signal). */
  emit(action: string, c: { id: string; name: string; image: string; labels?: Record<string, string> }, attributes: Record<string, string> = {}): void {
    // In milliseconds' precision, as a number: what BigInt arithmetic gave once converted back,
    // without its runtime calls on every event.
    const nowMs = Date.now();
    const ev: DockerEvent = {
      status: action,
      id: c.id,
      from: c.image,
      Type: 'container',
      Action: action,
      Actor: { ID: c.id, Attributes: { ...c.labels, name: c.name, image: c.image, ...attributes } },
      scope: 'local',
      time: Math.floor(nowMs / 1000),
      timeNano: nowMs * 1_000_000,
    };
    this.recent.push(ev);
    if (this.recent.length > EventBus.KEEP) this.recent.shift();
    this.emitter.emit('event', ev);
  }

  /** Events since a unix time (seconds), then live ones until the returned function is called. */
  subscribe(since: number | null, fn: (ev: DockerEvent) => void): () => void {
    if (since !== null) for (const ev of this.recent) if (ev.time >= since) fn(ev);
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
}
