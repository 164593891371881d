// The launcher worker's side of its IPC (src/workers/protocol.ts), on a real forked worker: a
// message it does not know fails that start with an IPC error of its own, never one that reads
// like a launch plan's, and the worker goes on serving.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { FromLauncher } from '../../src/workers/protocol.js';

const LAUNCHER = fileURLToPath(new URL('../../src/workers/launcher.ts', import.meta.url));

describe('launcher IPC', function () {
  this.timeout(30_000);
  let worker: ChildProcess;
  const replies: FromLauncher[] = [];
  let waiting: ((m: FromLauncher) => void) | null = null;
  const next = (): Promise<FromLauncher> => {
    const m = replies.shift();
    return m ? Promise.resolve(m) : new Promise((r) => { waiting = r; });
  };

  before(async () => {
    worker = fork(LAUNCHER, [], {
      execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced',
      env: { ...process.env, SKIFF_LAUNCHER_INDEX: '9' },
    });
    worker.on('message', (m: FromLauncher) => {
      const w = waiting;
      waiting = null;
      if (w) w(m);
      else replies.push(m);
    });
    expect(await next()).to.deep.equal({ type: 'ready' });
  });

  after(async () => {
    const exited = once(worker, 'exit');
    worker.disconnect();
    await exited;
  });

  it('fails a start-shaped message of an unknown type with an IPC error naming it', async () => {
    worker.send({ type: 'stop', id: 41 });
    expect(await next()).to.deep.equal({
      type: 'failed', id: 41,
      failure: { message: 'launcher IPC: type of a message from skiffd: unexpected "stop"', exitCode: 125 },
    });
  });

  it('logs one without an id (nothing to answer) and still answers the next', async () => {
    let stderr = '';
    worker.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    worker.send({ type: 'bogus' });
    worker.send({ type: 'stop', id: 42 });
    const reply = await next();
    expect(reply).to.have.property('id', 42);
    // stderr is a pipe of its own, not ordered with the IPC channel: wait for the whole line.
    while (!stderr.endsWith('\n')) await once(worker.stderr!, 'data');
    expect(stderr).to.equal('skiff-launcher 9: launcher IPC: type of a message from skiffd: unexpected "bogus"\n');
  });
});
