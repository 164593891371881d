// One call from skiff-oci's C front end, run in the server: output goes back as frames, and
// create's launch is done by the front end (the init must be born in the engine's process tree,
// whose subreaper reaps it), which opens the start fifo on the fd this side chose and reports
// the init's pid or the interpreter's failure.
import type { Socket } from 'node:net';
import type { Plan } from '../native/plan-format.js';
import type { CallIo } from './call-io.js';
import { OciError } from './errors.js';
import { frame, launchFrame, stringsFrame, type Frame, type Request } from './server-wire.js';

export class RemoteCall implements CallIo {
  private readonly waiting: ((f: Frame | null) => void)[] = [];
  private readonly queued: (Frame | null)[] = [];
  private fifo: { path: string; fd: number } | null = null;

  constructor(private readonly sock: Socket, private readonly req: Request) {}

  get cwd(): string {
    return this.req.cwd;
  }

  out(text: string): void {
    this.sock.write(frame('O', text));
  }

  err(text: string): void {
    this.sock.write(frame('E', text));
  }

  /** A frame from the front end after its request (or null: it is gone). */
  deliver(f: Frame | null): void {
    const w = this.waiting.shift();
    if (w) w(f);
    else this.queued.push(f);
  }

  private next(): Promise<Frame | null> {
    if (this.queued.length > 0) return Promise.resolve(this.queued.shift()!);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  prepareLaunch(fifoPath: string, preserveFds: number): Promise<number> {
    const open = new Set(this.req.openFds);
    for (let fd = 3; fd < 3 + preserveFds; fd++) {
      if (!open.has(fd)) return Promise.reject(new OciError(`--preserve-fds ${preserveFds}: fd ${fd} is not open`));
    }
    // Above every fd the front end has: the plan moves it down to 3 + preserveFds.
    const fd = Math.max(2 + preserveFds, ...this.req.openFds) + 1;
    this.fifo = { path: fifoPath, fd };
    return Promise.resolve(fd);
  }

  async launch(plan: Plan, umask: number): Promise<number> {
    if (this.fifo === null) throw new Error('launch before prepareLaunch');
    const [{ encodePlan }, { LaunchError }] = await Promise.all([import('../native/plan-format.js'), import('../native/launch.js')]);
    this.sock.write(launchFrame(umask, this.fifo.fd, this.fifo.path, encodePlan(plan)));
    const reply = await this.next();
    if (reply === null) throw new OciError('the skiff-oci front end ended before it reported the launch');
    if (reply.type === 'P' && reply.payload.length === 4) return reply.payload.readInt32LE(0);
    if (reply.type !== 'R' || reply.payload.length !== 12) throw new OciError(`the skiff-oci front end answered a launch with frame ${JSON.stringify(reply.type)}`);
    const [index, , errno] = [reply.payload.readInt32LE(0), reply.payload.readInt32LE(4), reply.payload.readInt32LE(8)];
    if (index === -2) throw new Error(`launch plan rejected by the native launcher (errno ${errno})`);
    throw new LaunchError(plan, index, errno);
  }

  undoWith(argv: string[]): void {
    this.sock.write(stringsFrame('C', argv));
  }

  release(): void {
    this.fifo = null;
  }
}
