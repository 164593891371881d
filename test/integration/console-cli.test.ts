// The console from the command line: skiff console / run -t on a real terminal (a pty driven
// by `script`), skiff logs, and the docker command line's logs, attach and run.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TestDaemon, useDaemon } from '../support/daemon.js';
import { GATE, openGate } from '../support/gate.js';
import { until } from '../support/wait.js';

const CLI = join(import.meta.dirname, '../../bin/skiff.js');

/** Runs a shell command line on a fresh pty (util-linux `script`), feeding it input as asked. */
function onTerminal(d: TestDaemon, commandLine: string) {
  const child = spawn('script', ['-qfec', commandLine, '/dev/null'], { env: d.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => { output += b.toString('utf8'); });
  child.stderr.on('data', (b: Buffer) => { output += b.toString('utf8'); });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return {
    get output() { return output; },
    type: (s: string) => child.stdin.write(s),
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}

describe('console from the command line', function () {
  this.timeout(60_000);
  const d = useDaemon();

  /** A detached container with a tty that echoes each line it reads; each test has its own. */
  const echoer = async (name: string): Promise<void> => {
    const run = await d.cli(['run', '-d', '-t', '--name', name, '--', '/bin/sh', '-c', 'echo ready; while read l; do echo "got:$l"; done']);
    expect(run.code, run.stderr).to.equal(0);
  };

  /** A detached container that prints `first`, waits for the test to open its gate, then runs `rest`. */
  const gated = async (name: string, first: string, rest: string): Promise<number> => {
    const run = await d.cli(['run', '-d', '--name', name, '--', '/bin/sh', '-c', `echo ${first}; ${GATE}; ${rest}`]);
    expect(run.code, run.stderr).to.equal(0);
    await d.waitForOutput(name, first);
    return (await d.inspect(name)).State.Pid;
  };

  /**
   * `commandLine` (a skiff console) on a terminal: waits for the replayed "ready", types `line`,
   * waits for the container's `echo` of it, then types `detach`; returns all the terminal showed.
   */
  const consoleSession = async (commandLine: string, line: string, echo: string, detach: string): Promise<string> => {
    const term = onTerminal(d, commandLine);
    try {
      await until(() => term.output.includes('ready'), 'the replayed ring');
      term.type(line);
      await until(() => term.output.includes(echo), 'the echo from the container');
      term.type(detach);
      expect(await term.exited).to.equal(0);
    } finally {
      term.kill();
    }
    return term.output;
  };

  /** Five lines, exited. */
  const lines = async (name: string): Promise<void> => {
    const run = await d.cli(['run', '--name', name, '--', '/bin/sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done']);
    expect(run.code, run.stderr).to.equal(0);
  };

  it('skiff console: input reaches the container, Ctrl-] detaches, the container keeps running, the terminal is restored', async () => {
    await echoer('echoer');
    const output = await consoleSession(`node ${CLI} console echoer; echo; stty -a`, 'hello there\r', 'got:hello there', '\x1d');
    expect(output).to.include('skiff: detached from echoer (still running)');
    const stty = output.slice(output.lastIndexOf('speed'));
    expect(stty).to.match(/(^|\s)icanon(\s|$)/);
    expect(stty).to.match(/(^|\s)echo(\s|$)/);
    expect((await d.inspect('echoer')).State.Running).to.equal(true);
  });

  it('--detach-keys chooses another sequence', async () => {
    await echoer('echoer-keys');
    // ctrl-p then x: not the sequence, both reach the container; then ctrl-p ctrl-q detaches.
    const output = await consoleSession(`node ${CLI} console --detach-keys ctrl-p,ctrl-q echoer-keys`, '\x10x\r', 'got:', '\x10\x11');
    expect(output).to.include('detached from echoer-keys');
  });

  it('skiff run -t on a terminal streams the console and exits with the init\'s code', async () => {
    const term = onTerminal(d, `node ${CLI} run -t --name tty-run -- /bin/sh -c 'tty; echo cols=$(stty size); exit 7'`);
    expect(await term.exited).to.equal(7);
    expect(term.output).to.match(/\/dev\/console|\/dev\/pts\/\d+/);
  });

  it('skiff logs prints the ring; --follow streams until the container exits', async () => {
    await lines('lines');
    const logs = await d.cli(['logs', 'lines']);
    expect(logs.stdout).to.equal('line1\nline2\nline3\nline4\nline5\n');
    expect((await d.cli(['logs', '--tail', '2', 'lines'])).stdout).to.equal('line4\nline5\n');
    // b is printed only once logs --follow is attached: it must come live.
    const pid = await gated('slow', 'a', 'echo b');
    const follow = d.cli(['logs', '--follow', 'slow']);
    await d.waitForClients('slow');
    openGate(pid);
    expect((await follow).stdout).to.equal('a\nb\n');
  });

  it('docker logs, logs -f, attach and run work against skiffd', async () => {
    await lines('dlines');
    const logs = await d.docker(['logs', 'dlines']);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.equal('line1\nline2\nline3\nline4\nline5\n');
    const slow = await gated('dslow', 'x', 'echo y');
    const follow = d.docker(['logs', '-f', 'dslow']);
    await d.waitForClients('dslow');
    openGate(slow);
    expect((await follow).stdout).to.equal('x\ny\n');
    // The line is printed once docker attach is attached: it must come live.
    const attached = await gated('dattach', 'started', 'echo attached-line; exit 4');
    const attach = d.docker(['attach', 'dattach']);
    await d.waitForClients('dattach');
    openGate(attached);
    const a = await attach;
    expect(a.stdout).to.include('attached-line\n');
    expect(a.code).to.equal(4);
    const hi = await d.docker(['run', '--rm', 'host', '/bin/echo', 'hi']);
    expect(hi.code, hi.stderr).to.equal(0);
    expect(hi.stdout).to.equal('hi\n');
    const three = await d.docker(['run', 'host', '/bin/sh', '-c', 'exit 3']);
    expect(three.code).to.equal(3);
  });
});
