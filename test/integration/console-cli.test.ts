// The console from the command line: skiff console / run -t on a real terminal (a pty driven
// by `script`), skiff logs, and the docker command line's logs, attach and run.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TestDaemon, until, useDaemon } from '../support/daemon.js';

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

  it('skiff console: input reaches the container, Ctrl-] detaches, the container keeps running, the terminal is restored', async () => {
    const run = await d.cli(['run', '-d', '-t', '--name', 'echoer', '--', '/bin/sh', '-c', 'echo ready; while read l; do echo "got:$l"; done']);
    expect(run.code, run.stderr).to.equal(0);
    const term = onTerminal(d, `node ${CLI} console echoer; echo; stty -a`);
    try {
      await until(() => term.output.includes('ready'), 'the replayed ring');
      term.type('hello there\r');
      await until(() => term.output.includes('got:hello there'), 'the echo from the container');
      term.type('\x1d');
      expect(await term.exited).to.equal(0);
    } finally {
      term.kill();
    }
    expect(term.output).to.include('skiff: detached from echoer (still running)');
    const stty = term.output.slice(term.output.lastIndexOf('speed'));
    expect(stty).to.match(/(^|\s)icanon(\s|$)/);
    expect(stty).to.match(/(^|\s)echo(\s|$)/);
    const info = (await d.api('GET', '/containers/echoer/json')).body as { State: { Running: boolean } };
    expect(info.State.Running).to.equal(true);
  });

  it('--detach-keys chooses another sequence', async () => {
    const term = onTerminal(d, `node ${CLI} console --detach-keys ctrl-p,ctrl-q echoer`);
    try {
      await until(() => term.output.includes('ready'), 'the replayed ring');
      term.type('\x10x\r'); // ctrl-p then x: not the sequence, both reach the container
      await until(() => term.output.includes('got:'), 'the echo');
      term.type('\x10\x11');
      expect(await term.exited).to.equal(0);
    } finally {
      term.kill();
    }
    expect(term.output).to.include('detached from echoer');
  });

  it('skiff run -t on a terminal streams the console and exits with the init\'s code', async () => {
    const term = onTerminal(d, `node ${CLI} run -t --name tty-run -- /bin/sh -c 'tty; echo cols=$(stty size); exit 7'`);
    expect(await term.exited).to.equal(7);
    expect(term.output).to.match(/\/dev\/console|\/dev\/pts\/\d+/);
  });

  it('skiff logs prints the ring; --follow streams until the container exits', async () => {
    await d.cli(['run', '--name', 'lines', '--', '/bin/sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done']);
    const logs = await d.cli(['logs', 'lines']);
    expect(logs.stdout).to.equal('line1\nline2\nline3\nline4\nline5\n');
    expect((await d.cli(['logs', '--tail', '2', 'lines'])).stdout).to.equal('line4\nline5\n');
    await d.cli(['run', '-d', '--name', 'slow', '--', '/bin/sh', '-c', 'echo a; sleep 0.5; echo b']);
    const follow = await d.cli(['logs', '--follow', 'slow']);
    expect(follow.stdout).to.equal('a\nb\n');
  });

  it('docker logs, logs -f, attach and run work against skiffd', async () => {
    const logs = await d.docker(['logs', 'lines']);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.equal('line1\nline2\nline3\nline4\nline5\n');
    await d.cli(['run', '-d', '--name', 'dslow', '--', '/bin/sh', '-c', 'echo x; sleep 0.5; echo y']);
    const follow = await d.docker(['logs', '-f', 'dslow']);
    expect(follow.stdout).to.equal('x\ny\n');
    await d.cli(['run', '-d', '--name', 'dattach', '--', '/bin/sh', '-c', 'sleep 0.5; echo attached-line; exit 4']);
    const attach = await d.docker(['attach', 'dattach']);
    expect(attach.stdout).to.include('attached-line\n');
    expect(attach.code).to.equal(4);
    const hi = await d.docker(['run', '--rm', 'host', '/bin/echo', 'hi']);
    expect(hi.code, hi.stderr).to.equal(0);
    expect(hi.stdout).to.equal('hi\n');
    const three = await d.docker(['run', 'host', '/bin/sh', '-c', 'exit 3']);
    expect(three.code).to.equal(3);
  });
});
