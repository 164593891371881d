// skiff run [options] [IMAGE] COMMAND [ARG...]   (Docker's order)
// skiff run [options] -- COMMAND [ARG...]        (IMAGE from --image/--rootfs, default host)
//
// Without `--` the first operand is the IMAGE, as in `docker run` against skiffd: "host" or an
// absolute image directory (src/main/docker/create.ts maps it the same way); everything after
// it, options included, is the command. After `--` every operand is the command.
import { statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { call, DaemonError, readJson, stream } from './client.js';
import { attachTerminal } from './console.js';
import { act, collect, UsageError, type Declared, type Outcome } from './command.js';
import { publishOption, type PortBindings } from './publish.js';
import { addResourceOptions, resourceFields, type ResourceValues } from './resource-options.js';
import { addHealthOptions, healthcheckField, type HealthValues } from './health-options.js';

/** The run command: remembers whether its operands came after a `--` (then there is no IMAGE). */
class RunCommand extends Command {
  commandAfterDashDash = false;

  override parseOptions(args: string[]): { operands: string[]; unknown: string[] } {
    const parsed = super.parseOptions(args);
    // Commander drops a literal `--` and returns the operands as the tail of args: the token just
    // before them says how they came, unless it was the value of an option (`--name --`).
    const k = args.length - parsed.operands.length;
    this.commandAfterDashDash = parsed.operands.length > 0 && args[k - 1] === '--' && !this.takesValue(args[k - 2]);
    return parsed;
  }

  private takesValue(token: string | undefined): boolean {
    if (token === undefined || !token.startsWith('-') || token.includes('=')) return false;
    // `-e` or `--env`, or a cluster (`-de`) whose last letter takes a value
    const flag = token.startsWith('--') ? token : `-${token.slice(-1)}`;
    return this.options.some((o) => o.required && (o.long === flag || o.short === flag));
  }
}

interface RunOptions extends ResourceValues, HealthValues {
  name?: string; rootfs?: string; image?: string; user?: string; hostname?: string; mount?: string[]; tmpfs?: string[];
  env?: string[]; workdir?: string; restart?: { Name: string; MaximumRetryCount: number }; network?: string;
  seccomp?: string; securityOpt?: string[]; capAdd?: string[]; capDrop?: string[];
  publish?: PortBindings; dns?: string[]; networkAlias?: string[];
  detach?: boolean; rm?: boolean; tty?: boolean; interactive?: boolean;
}

const enc = encodeURIComponent;

function restartPolicy(p: string): { Name: string; MaximumRetryCount: number } {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(p);
  if (!m) throw new InvalidArgumentError('Expected no, always, unless-stopped or on-failure[:N]');
  return { Name: m[1]!, MaximumRetryCount: m[2] ? Number(m[2]) : 0 };
}

/**
 * The IMAGE operand: "host", an absolute directory, or an image in skiffd's store, checked here so
 * that a command typed without `--` is not sent as an image.
 */
async function imageOperand(image: string, command: string[]): Promise<string> {
  const hint = `(to run a command on the host root: skiff run [options] -- ${[image, ...command].join(' ')})`;
  if (image === 'host') return image;
  if (!image.startsWith('/')) {
    try {
      await call('GET', `/images/${encodeURIComponent(image)}/json`);
    } catch (err) {
      if (!(err instanceof DaemonError) || err.status !== 404) throw err;
      throw new UsageError(`IMAGE must be "host", an absolute image directory or a stored image, got ${JSON.stringify(image)}, which is not stored (skiff pull ${image}) ${hint}`);
    }
    return image;
  }
  let dir: boolean;
  try {
    dir = statSync(image).isDirectory();
  } catch (err) {
    throw new UsageError(`IMAGE ${image}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} ${hint}`);
  }
  if (!dir) throw new UsageError(`IMAGE ${image} is not a directory ${hint}`);
  return image;
}

async function run(cmd: RunCommand, operands: string[], values: RunOptions): Promise<number> {
  let image = values.image;
  let command = operands;
  if (!cmd.commandAfterDashDash && operands.length > 0) {
    if (values.image !== undefined) throw new UsageError(`give the image once: IMAGE ${JSON.stringify(operands[0])} or --image, not both`);
    image = await imageOperand(operands[0]!, operands.slice(1));
    command = operands.slice(1);
  }
  // A stored image brings its own command (Entrypoint and Cmd).
  const stored = image !== undefined && image !== 'host' && !image.startsWith('/');
  if (command.length === 0 && !stored) throw new UsageError('run needs a command: skiff run [options] [IMAGE] COMMAND [ARG...] or skiff run [options] -- COMMAND [ARG...]');
  if (image !== undefined && image !== 'host' && values.rootfs && values.rootfs !== 'host') throw new UsageError('--image and --rootfs DIR cannot be combined');
  // A profile file is read here (as the docker CLI does) and sent parsed; the other --security-opt go as Docker's SecurityOpt.
  const securityOpt = values.securityOpt ?? [];
  const seccompOpts = securityOpt.filter((o) => /^seccomp[=:]/.test(o)).map((o) => o.slice('seccomp='.length));
  const seccompArg = [...(values.seccomp === undefined ? [] : [values.seccomp]), ...seccompOpts];
  if (seccompArg.length > 1) throw new UsageError('give one seccomp profile (--seccomp or --security-opt seccomp=…), not several');
  const { seccompOption } = seccompArg.length > 0 ? await import('./seccomp-option.js') : { seccompOption: null };
  const seccomp = seccompOption && seccompArg[0] !== undefined ? seccompOption(seccompArg[0]) : undefined;
  const skiff: Record<string, unknown> = {
    ...(values.rootfs && values.rootfs !== 'host' ? { Rootfs: values.rootfs } : {}),
    ...(seccomp === undefined ? {} : { Seccomp: seccomp }),
  };
  const healthcheck = healthcheckField(values);
  const body: Record<string, unknown> = {
    Image: image ?? 'host',
    ...(healthcheck ? { Healthcheck: healthcheck } : {}),
    ...(command.length > 0 ? { Cmd: command } : {}),
    Env: values.env ?? [],
    ...(values.user !== undefined ? { User: values.user } : {}),
    Tty: values.tty ?? false,
    OpenStdin: values.interactive ?? false,
    // As `docker run -i`: the end of this client's input is the end of the container's.
    StdinOnce: values.interactive ?? false,
    AttachStdin: values.interactive ?? false,
    HostConfig: {
      Binds: values.mount ?? [],
      Tmpfs: Object.fromEntries((values.tmpfs ?? []).map((t) => [t, ''])),
      AutoRemove: values.rm ?? false,
      NetworkMode: values.network ?? 'none',
      SecurityOpt: securityOpt.filter((o) => !/^seccomp[=:]/.test(o)),
      CapAdd: values.capAdd ?? [],
      CapDrop: values.capDrop ?? [],
      ...(values.restart ? { RestartPolicy: values.restart } : {}),
      ...(values.publish ? { PortBindings: values.publish } : {}),
      ...(values.dns ? { Dns: values.dns } : {}),
      ...resourceFields(values),
    },
    ...(values.networkAlias && values.network ? { NetworkingConfig: { EndpointsConfig: { [values.network]: { Aliases: values.networkAlias } } } } : {}),
    ...(values.hostname ? { Hostname: values.hostname } : {}),
    ...(values.workdir ? { WorkingDir: values.workdir } : {}),
    ...(Object.keys(skiff).length > 0 ? { Skiff: skiff } : {}),
  };
  let created: { Id: string };
  try {
    created = (await call('POST', `/containers/create${values.name ? `?name=${enc(values.name)}` : ''}`, body)).body as { Id: string };
  } catch (err) {
    if (err instanceof DaemonError) {
      process.stderr.write(`skiff: ${err.message}\n`);
      return 125;
    }
    throw err;
  }
  const id = created.Id;
  if (values.detach) {
    try {
      await call('POST', `/containers/${id}/start`);
    } catch (err) {
      return startFailed(err);
    }
    process.stdout.write(`${values.name ?? id}\n`);
    return 0;
  }
  // Attached: the wait first, then attach so no output is missed, then start. skiffd answers a
  // wait's headers at once (as Docker does), so once they are here the wait is registered and
  // a container that exits and is removed (--rm) before its output is drained is still waited
  // for; asking after the exit found it gone. The start's answer is awaited on its own: a failed
  // start may end the console stream first.
  const waiting = await stream('POST', `/containers/${id}/wait?condition=${values.rm ? 'removed' : 'next-exit'}`);
  let started: Promise<unknown> | null = null;
  const startIt = (): Promise<unknown> => {
    started = call('POST', `/containers/${id}/start`);
    return started;
  };
  let detached = false;
  try {
    const how = await attachTerminal({
      name: id,
      tty: values.tty ?? false,
      detachKeys: [0x1d],
      logs: true,
      stdin: values.interactive ?? values.tty ?? false,
    }, async () => { await startIt(); });
    detached = how === 'detached';
  } catch (err) {
    if (!(err instanceof DaemonError && err.status === 501)) throw err;
    process.stderr.write('skiff: this skiffd has no console forwarder; output is not shown\n');
  }
  try {
    await (started ?? startIt());
  } catch (err) {
    waiting.destroy();
    return startFailed(err);
  }
  if (detached) {
    waiting.destroy();
    process.stderr.write(`\r\nskiff: detached from ${values.name ?? id} (still running)\r\n`);
    return 0;
  }
  return ((await readJson(waiting)) as { StatusCode: number }).StatusCode;
}

function startFailed(err: unknown): number {
  if (!(err instanceof DaemonError)) throw err;
  process.stderr.write(`skiff: ${err.message}\n`);
  const code = Number(err.body.exitCode);
  return code === 126 || code === 127 ? code : 125;
}

export function runCommand(outcome: Outcome): Declared {
  const cmd = new RunCommand('run');
  cmd
    .usage('[options] [IMAGE] COMMAND [ARG...]\n       skiff run [options] -- COMMAND [ARG...]')
    .argument('[IMAGE]', '"host", an absolute image directory, or a pulled or loaded image (skiff pull); none when the command follows --')
    .argument('[COMMAND...]', 'the command and its arguments')
    // Options after the IMAGE (or the first word after --) belong to the command, as with docker run.
    .passThroughOptions()
    .option('--name <NAME>', 'the container\'s name')
    .option('--rootfs <host|DIR>', 'root filesystem: a read-only view of the host\'s (default), or DIR as it is')
    .option('-u, --user <USER>', 'run the command as uid[:gid], or as a user[:group] of the image\'s /etc/passwd (default: the image\'s User, else root)')
    .option('--image <DIR>', 'a copy-on-write overlay over DIR (the same as IMAGE)')
    .option('--hostname <H>', 'the container\'s hostname')
    .option('--mount <SRC:DST[:ro]>', 'bind mount (repeatable)', collect)
    .option('--tmpfs <DST>', 'a tmpfs at DST (repeatable)', collect)
    .option('-e, --env <K=V>', 'environment variable (repeatable)', collect)
    .option('-w, --workdir <DIR>', 'working directory inside the container')
    .addOption(new Option('--restart <POLICY>', 'no, always, unless-stopped or on-failure[:N]').argParser(restartPolicy))
    .option('--network <NETWORK>', 'none (the default: a namespace with loopback only), host (the host\'s), or a bridge network (bridge: the default one)')
    .option('-p, --publish <[IP:]HOSTPORT:CONTAINERPORT[/udp]>', 'publish a port of a container on a bridge network (repeatable)', publishOption)
    .option('--dns <IP>', 'a nameserver for its /etc/resolv.conf instead of the network\'s DNS (repeatable)', collect)
    .option('--network-alias <NAME>', 'another name for it in its network\'s DNS (repeatable)', collect)
    .option('--seccomp <default|unconfined|FILE>', 'seccomp profile (Docker\'s JSON format)')
    .option('--security-opt <OPT>', 'seccomp=…, no-new-privileges[=false] (repeatable)', collect)
    .option('--cap-add <CAP>', 'add a capability (repeatable; with or without CAP_, or ALL)', collect)
    .option('--cap-drop <CAP>', 'drop a capability (repeatable)', collect)
    .option('-d, --detach', 'start it and print its name instead of attaching')
    .option('--rm', 'remove it when it exits')
    .option('-t, --tty', 'give it a terminal')
    .option('-i, --interactive', 'forward stdin');
  addResourceOptions(cmd);
  addHealthOptions(cmd);
  cmd.addHelpText('after', `
Without -d, run shows the console and exits with the init's exit code (128+N for signal N);
125 means skiff itself failed, 126 that the command could not be run, 127 that it was not found.`);
  act(cmd, outcome, (first: string | undefined, rest: string[], values: RunOptions) => run(cmd, first === undefined ? [] : [first, ...rest], values), 125);
  return {
    cmd,
    summary: 'create and start a container; without -d, show its console and exit with its code',
    examples: [
      'skiff run host /bin/echo hello',
      'skiff run --rm -- /bin/sh -c \'echo hello from $(hostname)\'',
      'skiff run -d --name web /srv/images/alpine /bin/sh -c \'while true; do date; sleep 1; done\'',
      'skiff run -d --name web --network bridge -p 8080:80 /srv/images/busybox httpd -f -p 80',
      'skiff run -d --memory 64m --cpus 0.5 --pids-limit 100 -- /bin/sh -c \'sleep 600\'',
    ],
  };
}
