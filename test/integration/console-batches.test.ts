// A client's output moves into its pipe in batches (clients.ts): after a quiet spell at once,
// while output keeps coming once enough waits or a batch's time is up. The thread's loop must
// move a batch whose time is up by itself: here the container writes a burst of small writes
// (rounds that come too close together to move one by one, so the last of them wait in the
// client's backlog) and then goes quiet without ending, waiting for input. The client must get
// the whole burst while the container still waits: nothing more will come to push it along.
import { expect } from 'chai';
import { ConsoleHub, type ConsoleClient, type OutputRecord } from '../../src/forwarder/index.js';
import { close } from '../../src/sys/libc.js';
import type { LaunchConsole } from '../../src/workers/plan.js';
import { Harness } from '../support/harness.js';
import { until } from '../support/wait.js';

const WRITES = 400;
/** WRITES writes of one byte each, as fast as sh goes, then a wait for a line of input */
const SCRIPT = `stty -echo 2>/dev/null; i=0; while [ $i -lt ${WRITES} ]; do printf x; i=$((i+1)); done; read line`;

describe('console batches: a burst that ends reaches the client while the container waits', function () {
  this.timeout(120_000);
  let h: Harness;
  let hub: ConsoleHub;
  let seq = 0;

  before(async () => {
    h = new Harness();
    hub = new ConsoleHub({ threads: 1 });
    await hub.connect();
  });
  after(async () => {
    await hub.close();
    await h.close();
  });

  for (const pty of [false, true]) {
    it(`${pty ? 'a pty' : 'pipes'}: every byte of the burst arrives before the container's input`, async () => {
      const id = `batches-${++seq}`;
      let console: LaunchConsole;
      let ends: number[] = [];
      if (pty) {
        console = { kind: 'pty', slavePath: (await hub.open(id, { buffer: 1 << 20, logPath: null, logMax: 0 })).slavePath };
      } else {
        const p = await hub.openPipes(id, { buffer: 1 << 20, logPath: null, logMax: 0, stdin: true });
        const path = (fd: number) => `/proc/${process.pid}/fd/${fd}`;
        console = { kind: 'pipes', stdin: path(p.stdin!), stdout: path(p.stdout), stderr: path(p.stderr) };
        ends = [p.stdin!, p.stdout, p.stderr];
      }
      const client: ConsoleClient = await hub.attach(id, { replay: false, stdin: true, records: !pty });
      let exited;
      try {
        exited = h.start({ name: id, command: ['/bin/sh', '-c', SCRIPT] }, { console }).exited;
      } finally {
        for (const fd of ends) close(fd);
      }
      let got = '';
      client.output.on('data', (d: OutputRecord | Buffer) => { got += (Buffer.isBuffer(d) ? d : d.data).toString('latin1'); });
      await until(async () => (await hub.counters(id)).bytesIn >= WRITES, 'the container to write its burst');
      // The container now waits for input and writes nothing more: the burst's last rounds must come anyway.
      await until(() => got.length >= WRITES, `the rest of the burst (the client has ${got.length} of ${WRITES} bytes)`);
      expect(got).to.equal('x'.repeat(WRITES));
      expect(client.dropped).to.equal(0);
      client.write(Buffer.from('go\n'));
      expect((await exited).exitCode).to.equal(0);
      await hub.exited(id);
      client.close();
      await hub.remove(id);
    });
  }
});
