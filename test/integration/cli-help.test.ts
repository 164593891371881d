// The skiff command line as a user meets it, run from bin/skiff.js (the built CLI): --help for
// every command, --version, usage errors (exit 2) that name the option or quote the value,
// and `skiff run` in both its forms, Docker's `run [IMAGE] COMMAND` and `run -- COMMAND`,
// against a real skiffd.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../../src/api/http-client.js';
import { until, useDaemon } from '../support/daemon.js';
import { childPids } from '../support/leaks.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';
import { TempDirs } from '../support/tmp.js';

/** Every command and the options its help must show (-h/--help is on all of them). */
const COMMANDS: Record<string, string[]> = {
  run: ['--name', '--rootfs', '--image', '--hostname', '--mount', '--tmpfs', '--env', '--workdir', '--restart', '--network',
    '--publish', '--dns', '--network-alias', '--seccomp', '--security-opt', '--cap-add', '--cap-drop', '--detach', '--rm', '--tty', '--interactive',
    '--memory', '--memory-swap', '--memory-reservation', '--cpus', '--cpu-shares', '--pids-limit', '--cpuset-cpus', '--user',
    '--health-cmd', '--health-interval', '--health-timeout', '--health-retries', '--health-start-period', '--health-start-interval', '--no-healthcheck'],
  exec: ['--interactive', '--tty', '--detach', '--env', '--workdir', '--user', '--detach-keys'],
  ps: ['--all', '--json'],
  inspect: [],
  logs: ['--follow', '--tail', '--all', '--raw'],
  console: ['--detach-keys', '--no-logs'],
  stop: ['--time'],
  kill: ['--signal'],
  rm: ['--force'],
  wait: [],
  top: [],
  rename: [],
  update: ['--memory', '--memory-swap', '--memory-reservation', '--cpus', '--cpu-shares', '--pids-limit', '--cpuset-cpus'],
  stats: [],
  pull: ['--quiet'],
  images: ['--quiet', '--json'],
  rmi: ['--force'],
  tag: [],
  load: ['--input'],
  save: ['--output'],
  login: ['--username', '--password-stdin'],
  logout: [],
  fleet: [],
  'fleet up': ['--wait', '--json'],
  'fleet down': ['--name'],
  'fleet status': ['--json'],
  'fleet ls': ['--json'],
  network: [],
  'network create': ['--subnet', '--gateway', '--internal', '--label'],
  'network ls': ['--json'],
  'network inspect': [],
  'network rm': [],
  'network connect': ['--alias'],
  'network disconnect': [],
  bench: ['--count', '--concurrency', '--warmup', '--vs', '--json'],
  daemon: ['--socket', '--state-dir', '--launchers', '--max-queued', '--forwarder-threads', '--headers-timeout', '--request-timeout',
    '--default-subnet', '--resolv-conf', '--docker-network', '--cgroup-parent', '--default-pids-limit', '--insecure-registry', '--health-probes'],
};

/** The command names a help text lists under "Commands:" (without `help` itself). */
function listedCommands(help: string): string[] {
  const section = help.slice(help.indexOf('Commands:\n') + 'Commands:\n'.length).split('\n\n')[0]!;
  return section.split('\n').map((l) => /^ {2}(\S+)/.exec(l)?.[1]).filter((n): n is string => n !== undefined && n !== 'help');
}

describe('skiff command line: help, version, usage errors', function () {
  this.timeout(120_000);
  const d = useDaemon();

  it('the table above covers every command skiff --help and skiff fleet --help list', async () => {
    const top = await d.cli(['--help']);
    expect(top.code, top.stderr).to.equal(0);
    const fleet = await d.cli(['fleet', '--help']);
    expect(fleet.code, fleet.stderr).to.equal(0);
    const network = await d.cli(['network', '--help']);
    const listed = [...listedCommands(top.stdout), ...listedCommands(fleet.stdout).map((c) => `fleet ${c}`), ...listedCommands(network.stdout).map((c) => `network ${c}`)];
    expect(listed.sort()).to.deep.equal(Object.keys(COMMANDS).sort());
  });

  for (const [command, options] of Object.entries(COMMANDS)) {
    it(`skiff ${command} --help shows its usage, options and an example (exit 0)`, async () => {
      const words = command.split(' ');
      const r = await d.cli([...words, '--help']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.match(new RegExp(`^Usage: skiff ${command} `));
      for (const o of ['--help', ...options]) expect(r.stdout, o).to.match(new RegExp(`(^|[ ,])${o}\\b`, 'm'));
      expect(r.stdout).to.match(new RegExp(`Examples?:\\n {2}skiff ${command}\\b`));
      // `skiff help CMD` (`skiff fleet help up`) is the same text
      const viaHelp = await d.cli([...words.slice(0, -1), 'help', words.at(-1)!]);
      expect(viaHelp.code, viaHelp.stderr).to.equal(0);
      expect(viaHelp.stdout).to.equal(r.stdout);
    });
  }

  it('skiff --version and -V print package.json\'s version', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await d.cli([flag]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`${version}\n`);
    }
  });

  it('no command is a usage error: the help on stderr, exit 2', async () => {
    const r = await d.cli([]);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/^Usage: skiff <command>/);
  });

  it('an unknown command or option exits 2 naming it, for every command', async () => {
    const cmd = await d.cli(['frobnicate']);
    expect(cmd.code).to.equal(2);
    expect(cmd.stderr).to.equal('skiff: unknown command \'frobnicate\'\nSee \'skiff --help\'.\n');
    for (const command of Object.keys(COMMANDS)) {
      const r = await d.cli([...command.split(' '), '--bogus-option', 'x']);
      expect(r.code, `${command}: ${r.stderr}`).to.equal(2);
      expect(r.stdout, command).to.equal('');
      expect(r.stderr, command).to.equal(`skiff ${command}: unknown option '--bogus-option'\nSee 'skiff ${command} --help'.\n`);
    }
  });

  it('a bad number is a usage error quoting the value, before anything is sent', async () => {
    const cases: [string[], string, string][] = [
      [['bench', '--count', 'abc'], '--count <N>', 'abc'],
      [['bench', '--count', '0'], '--count <N>', '0'],
      [['bench', '--concurrency', '-3'], '--concurrency <C>', '-3'],
      [['bench', '--warmup', '1.5'], '--warmup <W>', '1.5'],
      [['stop', '--time', '-1', 'web'], '-t, --time <SECONDS>', '-1'],
      [['stop', '-t', 'soon', 'web'], '-t, --time <SECONDS>', 'soon'],
      [['logs', '--tail', 'x', 'web'], '--tail <N>', 'x'],
      [['logs', '--tail', '-2', 'web'], '--tail <N>', '-2'],
      [['daemon', '--max-queued', 'abc'], '--max-queued <N>', 'abc'],
      [['daemon', '--launchers', '0'], '--launchers <N>', '0'],
      [['daemon', '--forwarder-threads', '2x'], '--forwarder-threads <N>', '2x'],
      [['daemon', '--headers-timeout', '0'], '--headers-timeout <SECONDS>', '0'],
      [['daemon', '--request-timeout', '3601'], '--request-timeout <SECONDS>', '3601'],
    ];
    for (const [args, flags, value] of cases) {
      const r = await d.cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr, args.join(' ')).to.include(`skiff ${args[0]}: option '${flags}' argument '${value}' is invalid.`);
    }
    // and other values the same way: a restart policy, detach keys, a runtime to compare with
    for (const [args, text] of [
      [['run', '--restart', 'sometimes', '--', '/bin/true'], 'argument \'sometimes\' is invalid. Expected no, always, unless-stopped or on-failure[:N]'],
      [['console', '--detach-keys', 'ctrl-', 'web'], 'argument \'ctrl-\' is invalid.'],
      [['bench', '--vs', 'docker'], 'argument \'docker\' is invalid. Expected some of unshare, bwrap, crun, runc, got "docker"'],
    ] as const) {
      const r = await d.cli([...args]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include(text);
    }
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
  });

  it('missing and surplus arguments are usage errors naming the command', async () => {
    const missing = await d.cli(['stop']);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.equal('skiff stop: missing required argument \'NAME\'\nSee \'skiff stop --help\'.\n');
    const surplus = await d.cli(['wait', 'a', 'b']);
    expect(surplus.code).to.equal(2);
    expect(surplus.stderr).to.match(/^skiff wait: too many arguments for 'wait'\. Expected 1 argument but got 2\./);
    const noCommand = await d.cli(['run', '--rm']);
    expect(noCommand.code).to.equal(2);
    expect(noCommand.stderr).to.match(/^skiff run: run needs a command: /);
  });
});

describe('skiff run: [IMAGE] COMMAND and -- COMMAND', function () {
  this.timeout(60_000);
  const d = useDaemon();
  const tmp = new TempDirs();
  let image = '';

  before(() => {
    image = buildBusyboxRootfs(tmp.make('cli-image'));
    writeFileSync(join(image, 'etc/which-root'), 'the image\n');
  });
  after(() => tmp.removeAll());

  it('skiff run host /bin/echo hi and skiff run -- /bin/echo hi both run /bin/echo on the host root', async () => {
    for (const args of [['run', '--rm', 'host', '/bin/echo', 'hi'], ['run', '--rm', '--', '/bin/echo', 'hi'], ['run', 'host', '/bin/echo', 'hi']]) {
      const r = await d.cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
      expect(r.stdout, args.join(' ')).to.equal('hi\n');
    }
  });

  it('options after IMAGE, or after --, belong to the command, and its exit code is run\'s', async () => {
    const afterImage = await d.cli(['run', '--rm', 'host', '/bin/sh', '-c', 'echo "$@"; exit 3', 'sh', '--name', 'not-an-option', '-d']);
    expect(afterImage.code, afterImage.stderr).to.equal(3);
    expect(afterImage.stdout).to.equal('--name not-an-option -d\n');
    const afterDashes = await d.cli(['run', '--rm', '--', '/bin/echo', '--rm', '-t']);
    expect(afterDashes.code, afterDashes.stderr).to.equal(0);
    expect(afterDashes.stdout).to.equal('--rm -t\n');
    expect((await d.api('GET', '/containers/not-an-option/json')).status).to.equal(404);
  });

  it('an absolute IMAGE directory is the container\'s image, as --image DIR -- is', async () => {
    const positional = await d.cli(['run', '--rm', image, '/bin/cat', '/etc/which-root']);
    expect(positional.code, positional.stderr).to.equal(0);
    expect(positional.stdout).to.equal('the image\n');
    const flag = await d.cli(['run', '--rm', '--image', image, '--', '/bin/cat', '/etc/which-root']);
    expect(flag.code, flag.stderr).to.equal(0);
    expect(flag.stdout).to.equal('the image\n');
    const host = await d.cli(['run', '--rm', 'host', '/bin/cat', '/etc/which-root']);
    expect(host.code).to.equal(1); // cat's own failure: the host has no such file
  });

  it('a first word that is no image is a usage error that shows the -- form', async () => {
    const before = ((await d.api('GET', '/containers/json?all=1')).body as unknown[]).length;
    const word = await d.cli(['run', 'sh', '-c', 'echo hi']);
    expect(word.code).to.equal(2);
    expect(word.stderr).to.equal('skiff run: IMAGE must be "host", an absolute image directory or a stored image, got "sh", which is not stored (skiff pull sh) (to run a command on the host root: skiff run [options] -- sh -c echo hi)\nSee \'skiff run --help\'.\n');
    const file = await d.cli(['run', '/bin/echo', 'hi']);
    expect(file.code).to.equal(2);
    expect(file.stderr).to.include('skiff run: IMAGE /bin/echo is not a directory (to run a command on the host root: skiff run [options] -- /bin/echo hi)');
    const twice = await d.cli(['run', '--image', image, image, '/bin/true']);
    expect(twice.code).to.equal(2);
    expect(twice.stderr).to.include(`skiff run: give the image once: IMAGE ${JSON.stringify(image)} or --image, not both`);
    expect((await d.api('GET', '/containers/json?all=1')).body).to.have.length(before); // nothing was created
  });
});

/** A process's name, or null once it has gone. */
function comm(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

describe('skiff daemon: skiffd in the foreground', function () {
  this.timeout(60_000);
  const tmp = new TempDirs();
  after(() => tmp.removeAll());

  it('serves the API until SIGTERM, which it passes on to skiffd; then exits 0', async () => {
    const dir = tmp.make('cli-daemon');
    const socket = join(dir, 'skiff.sock');
    const cli = spawn(process.execPath, [join(import.meta.dirname, '../../bin/skiff.js'), 'daemon', '--socket', socket, '--state-dir', join(dir, 'state'), '--launchers', '1'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    cli.stdout.on('data', (b: Buffer) => { output += b.toString(); });
    cli.stderr.on('data', (b: Buffer) => { output += b.toString(); });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    let skiffd: number | undefined;
    try {
      const pong = await until(() => request(socket, 'GET', '/_ping').then((r) => r.text, () => null), 'skiffd to answer');
      expect(pong).to.equal('OK');
      skiffd = childPids(cli.pid!)[0];
      expect(comm(skiffd!)).to.equal('skiffd');
      cli.kill('SIGTERM');
      expect(await exited, output).to.equal(0);
      expect(output).to.include('"msg":"skiffd stopping","signal":"SIGTERM"');
      expect(comm(skiffd!), 'skiffd after the CLI exited').to.equal(null);
    } finally {
      // On a failure: skiffd has a session of its own, so it is ended by its pid as well.
      if (cli.exitCode === null) cli.kill('SIGKILL');
      if (skiffd !== undefined && comm(skiffd) === 'skiffd') process.kill(skiffd, 'SIGKILL');
    }
  });
});
