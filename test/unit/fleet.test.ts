// Fleet files: the issue's list of bad files, each refused with its exact position and
// message before any Fleet exists; good files (Compose as Docker users write it, merge
// keys, x- keys, shell-split commands, durations, sizes); replica naming; the config hash;
// and the example fleets in config/.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '../../src/compose/duration.js';
import { FleetError, loadFleetFile, parseFleet, serviceOrder, type Fleet, type FleetOptions } from '../../src/compose/fleet.js';
import { shellSplit } from '../../src/compose/shell-words.js';
import { parseSize } from '../../src/compose/size.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A YAML file from lines, so that line numbers in the assertions can be counted. */
function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** parseFleet must throw a FleetError with exactly this message (and return nothing). */
function refuse(text: string, message: string, opts: FleetOptions = {}, file = 'fleet.yaml'): FleetError {
  let fleet: Fleet | undefined;
  try {
    fleet = parseFleet(text, file, opts);
  } catch (err) {
    expect(err).to.be.instanceOf(FleetError);
    expect((err as FleetError).message).to.equal(message);
    return err as FleetError;
  }
  return expect.fail(`expected "${message}", but the file parsed: ${JSON.stringify(fleet).slice(0, 200)}`);
}

/** A one-service fleet with `extra` lines added to the service `web`. */
function web(...extra: string[]): string {
  return yaml('services:', '  web:', '    image: host', '    command: [/bin/true]', ...extra.map((l) => `    ${l}`));
}

describe('fleet files', () => {
  it('a fleet that publishes or names networks puts its other services on <fleet>_default, each answering to its service name', () => {
    const f = parseFleet(web('ports: ["8080:80"]'), 'fleet.yaml');
    const spec = f.services[0]!.specs[0]!;
    expect([f.networks, spec.network, spec.networkAliases, spec.ports]).to.deep.equal([
      [{ name: 'fleet_default', internal: false }], 'fleet_default', ['web'], [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }],
    ]);
    // one that uses none keeps network none, as before networks
    const plain = parseFleet(web(), 'fleet.yaml');
    expect([plain.networks, plain.services[0]!.specs[0]!.network]).to.deep.equal([[], 'none']);
  });

  describe('bad files are refused at the exact line:column, before anything else', () => {
    it('a tab-indented file', () => {
      const e = refuse('services:\n\tweb:\n\t\timage: host\n', 'fleet.yaml:2:1: a tab is used for indentation; YAML indents with spaces only');
      expect([e.line, e.column, e.field]).to.deep.equal([2, 1, '']);
    });

    it('a duplicate key', () => {
      refuse(yaml('services:', '  web:', '    image: host', '    command: [/bin/true]', '    image: /srv/image'),
        'fleet.yaml:5:5: duplicate key "image": each key may appear once in a map');
    });

    it('replicas: -1', () => {
      const e = refuse(web('deploy:', '  replicas: -1'), 'fleet.yaml:6:17 services.web.deploy.replicas: expected a positive integer, got -1');
      expect(e.field).to.equal('services.web.deploy.replicas');
      expect(e.reason).to.equal('expected a positive integer, got -1');
    });

    it('cap_add / cap_drop: an unknown capability at its item', () => {
      refuse(web('cap_add: [NET_ADMIN, FLY]'), 'fleet.yaml:5:26 services.web.cap_add[1]: is not a known capability (e.g. CAP_NET_ADMIN, NET_ADMIN or ALL), got "FLY"');
      refuse(web('cap_drop:', '  - 7'), 'fleet.yaml:6:9 services.web.cap_drop[0]: expected a capability name, got 7');
      const fleet = parseFleet(web('cap_add: [net_admin]', 'cap_drop: [ALL]'), 'fleet.yaml');
      expect(fleet.services[0]!.specs[0]!.capabilities).to.deep.equal({ add: ['CAP_NET_ADMIN'], drop: ['ALL'] });
    });

    it('replicas that are not a number', () => {
      refuse(web('deploy:', '  replicas: ten'), 'fleet.yaml:6:17 services.web.deploy.replicas: expected a positive integer, got "ten"');
      refuse(web('scale: 0'), 'fleet.yaml:5:12 services.web.scale: expected a positive integer, got 0');
    });

    it('replicas beyond the maximum, before any spec is built', () => {
      // (Were the billion specs built first, this would not finish: the test's timeout is the check.)
      refuse(web('deploy: { replicas: 1000000000 }'),
        'fleet.yaml:5:25 services.web.deploy.replicas: 1000000000 replicas are more than the maximum of 1000 per fleet');
      refuse(web('deploy:', '  replicas: 1001'), 'fleet.yaml:6:17 services.web.deploy.replicas: 1001 replicas are more than the maximum of 1000 per fleet');
    });

    it('replicas beyond a configured maximum across services, at the service that crosses it', () => {
      const text = yaml('services:', '  a:', '    image: host', '    command: [x]', '    scale: 6',
        '  b:', '    image: host', '    command: [x]', '    deploy:', '      replicas: 5');
      refuse(text, 'fleet.yaml:10:17 services.b.deploy.replicas: 5 replicas bring the fleet to 11, more than the maximum of 10', { maxReplicas: 10 });
      expect(parseFleet(text, 'fleet.yaml', { maxReplicas: 11 }).services.map((s) => s.replicas)).to.deep.equal([6, 5]);
    });

    it('an unknown key, with a did-you-mean', () => {
      const e = refuse(web('comand: [/bin/echo]'), 'fleet.yaml:5:5 services.web.comand: unknown key, did you mean "command"?');
      expect(e.field).to.equal('services.web.comand');
      refuse(web('deploy:', '  replica: 2'), 'fleet.yaml:6:7 services.web.deploy.replica: unknown key, did you mean "replicas"?');
      refuse(yaml('servics:', '  web: {}'), 'fleet.yaml:1:1 servics: unknown key, did you mean "services"?');
    });

    it('a volume without a target (long and short form)', () => {
      refuse(web('volumes:', '  - type: bind', '    source: /srv/data'),
        'fleet.yaml:6:9 services.web.volumes[0]: has no target: the path where the volume appears in the container');
      refuse(web('volumes:', '  - /srv/data:/data', '  - "/srv/logs:"'),
        'fleet.yaml:7:9 services.web.volumes[1]: "/srv/logs:" has no target; write SOURCE:TARGET[:ro]');
    });

    it('restart: no unquoted, which YAML reads as false', () => {
      refuse(web('restart: no'), 'fleet.yaml:5:14 services.web.restart: an unquoted no is the YAML boolean false; quote it: restart: "no"');
      refuse(web('restart: false'), 'fleet.yaml:5:14 services.web.restart: an unquoted no is the YAML boolean false; quote it: restart: "no"');
      expect(parseFleet(web('restart: "no"'), 'fleet.yaml').services[0]?.specs[0]?.restart).to.deep.equal({ name: 'no' });
    });

    it('an alias bomb (billion laughs), quickly', () => {
      // Nine levels of nine aliases: 9^8 "lol"s once expanded, 500 bytes as written.
      const levels = 'abcdefghi'.split('');
      const bomb = yaml(
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ...levels.slice(1).map((c, i) => `${c}: &${c} [${Array(9).fill(`*${levels[i]}`).join(',')}]`),
      );
      // Refused by counting, before expanding: expanding the bomb would take minutes and
      // gigabytes (the test's timeout), and the count in the message is where the count stopped.
      refuse(bomb, 'fleet.yaml:5:11: aliases expand to more than 20000 nodes (an alias bomb?); this one adds 7381');
    });

    it('an alias bomb hidden in an ignored x- key is refused too', () => {
      const levels = 'abcdef'.split('');
      const anchors = levels.slice(1).map((c, i) => `  ${c}: &${c} [${Array(9).fill(`*${levels[i]}`).join(',')}]`);
      refuse(yaml('x-bomb:', '  a: &a [1,2,3,4,5,6,7,8,9]', ...anchors, 'services: {}'),
        'fleet.yaml:6:13: aliases expand to more than 20000 nodes (an alias bomb?); this one adds 7381');
    });

    it('a recursive alias and an alias without an anchor', () => {
      refuse(yaml('x-a: &a [1, *a]', 'services: {}'), 'fleet.yaml:1:13: alias *a is inside the node it names (a recursive alias)');
      refuse(web('environment: *env'), 'fleet.yaml:5:18: alias *env has no anchor &env before it');
    });

    it('a 50 MB file, by its size, without reading it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'skiff-fleet-'));
      try {
        const file = join(dir, 'huge.yaml');
        // Sparse: 50 MB by its size, no disk. The message gives the file's size (a read would stop
        // at the limit and give 1048577), so it shows the file was judged by its size.
        writeFileSync(file, '');
        truncateSync(file, 50 << 20);
        let error: unknown;
        await loadFleetFile(file).catch((err: unknown) => { error = err; });
        expect(error).to.be.instanceOf(FleetError);
        expect((error as FleetError).message).to.equal(`${file}: 52428800 bytes is more than the 1048576 bytes a fleet file may have`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a text over the size limit, before parsing it', () => {
      const text = `services:\n${'#'.repeat(2 << 20)}\n`;
      refuse(text, `fleet.yaml: ${text.length} bytes is more than the 1048576 bytes a fleet file may have`);
      refuse('services: {}\n', 'fleet.yaml: 13 bytes is more than the 10 bytes a fleet file may have', { maxBytes: 10 });
    });

    it('resource limits: service keys and deploy.resources, each mistake at its place', () => {
      const fleet = parseFleet(web('mem_limit: 64m', 'pids_limit: 30', 'cpu_shares: 512', 'deploy:', '  resources:', '    limits: { cpus: "0.5" }',
        '    reservations: { memory: 32m }'), 'fleet.yaml');
      expect(fleet.services[0]!.specs[0]!.resources).to.deep.equal({ memory: 64 << 20, memorySwap: null, memoryReservation: 32 << 20,
        cpuQuota: 50_000, cpuPeriod: 100_000, cpuShares: 512, pidsLimit: 30, cpusetCpus: null, cpusetMems: null });
      refuse(web('mem_limit: 1k'), 'fleet.yaml:5:16 services.web.mem_limit: must be a number of bytes of at least 6291456 (6m), got 1024');
      refuse(web('mem_limit: lots'), 'fleet.yaml:5:16 services.web.mem_limit: expected a size such as 64m, 512k, 1g or a number of bytes, got "lots"');
      refuse(web('cpus: -1'), 'fleet.yaml:5:11 services.web.cpus: expected a number of CPUs of at least 0.01, such as 0.5 or 2, got -1');
      refuse(web('mem_limit: 64m', 'deploy: { resources: { limits: { memory: 128m } } }'),
        'fleet.yaml:6:46 services.web.deploy.resources.limits.memory: sets memory to 134217728 but services.web.mem_limit already set it to 67108864; give one');
    });

    it('other mistakes, each at its place', () => {
      refuse(web('ports: ["70000:80"]'), 'fleet.yaml:5:13 services.web.ports[0]: host port 70000 is not a port from 1 to 65535');
      refuse(web('networks: [nope]'), 'fleet.yaml:5:16 services.web.networks[0]: names no network of the fleet: "nope" (declare it under the top-level networks:)');
      refuse(web('ports: ["8080:80"]', 'deploy: { replicas: 2 }'), 'fleet.yaml:5:12 services.web.ports: 2 replicas cannot publish the same host ports: one replica may');
      refuse(web('deploy:', '  resources: { limits: { devices: [] } }'), 'fleet.yaml:6:30 services.web.deploy.resources.limits.devices: not supported by skiff yet');
      refuse(yaml('services:', '  web:', '    image: Nginx:1.27'),
        'fleet.yaml:3:12 services.web.image: invalid reference format "Nginx:1.27": repository name "Nginx" must be lowercase (image is host, an image directory such as ./rootfs, or a registry image)');
      refuse(yaml('services:', '  web:', '    image: host'),
        'fleet.yaml:2:3 services.web: has no command to run: give command (or entrypoint); only a registry image brings its own');
      refuse(yaml('services:', '  web:', '    image: nginx', '    pull_policy: daily'),
        'fleet.yaml:4:18 services.web.pull_policy: daily is not supported by skiff yet (always, missing or never)');
      refuse(yaml('services:', '  web:', '    image: nginx', '    pull_policy: sometimes'),
        'fleet.yaml:4:18 services.web.pull_policy: expected always, missing or never, got "sometimes"');
      refuse(yaml('services:', '  web:', '    image: /srv/root', '    pull_policy: never', '    command: [x]'),
        'fleet.yaml:4:18 services.web.pull_policy: applies to a registry image; image: /srv/root is not pulled');
      refuse(web('depends_on: [wbe]'), 'fleet.yaml:5:18 services.web.depends_on[0]: unknown service "wbe", did you mean "web"?');
      refuse(web('stop_grace_period: 10'), 'fleet.yaml:5:24 services.web.stop_grace_period: expected a duration with a unit, such as 10s or 1m30s, got 10');
      refuse(web('environment: [DEBUG]'),
        'fleet.yaml:5:19 services.web.environment[0]: DEBUG has no value; Compose would copy it from the host, which skiff does not do yet (write DEBUG=value)');
      refuse(web('environment: { SKIFF_REPLICA: "7" }'), 'fleet.yaml:5:35 services.web.environment.SKIFF_REPLICA: SKIFF_REPLICA is set by skiff for each replica');
      refuse(web('labels: [skiff.fleet=other]'), 'fleet.yaml:5:14 services.web.labels[0]: labels starting with "skiff." are set by skiff');
      refuse(web('network_mode: bridge'), 'fleet.yaml:5:19 services.web.network_mode: network_mode bridge is not supported by skiff yet (none and host are)');
      refuse(web('volumes: ["data:/var/lib/data"]'),
        'fleet.yaml:5:15 services.web.volumes[0]: "data" is a named volume, not supported by skiff yet (bind a host path: /abs or ./relative)');
      refuse(yaml('services:', '  web:', '    image: host', '    command: "sh -c \'echo hi"'),
        'fleet.yaml:4:14 services.web.command: unterminated single quote at character 7 of "sh -c \'echo hi"');
      refuse(web('x-skiff: { job: true }', 'restart: always'),
        'fleet.yaml:6:14 services.web.restart: a job (x-skiff.job: true) is expected to exit; restart: always would start it again forever');
      refuse(web('x-skiff:', '  console: { bufer: 1k }'), 'fleet.yaml:6:18 services.web.x-skiff.console.bufer: unknown key, did you mean "buffer"?');
      refuse(web('depends_on:', '  web: { condition: service_ready }'),
        'fleet.yaml:6:25 services.web.depends_on.web.condition: expected service_started, service_healthy or service_completed_successfully, got "service_ready"');
      refuse(yaml('services:', '  web:', '    image: host', '    command: [x]', '    labels: !override [a=b]'),
        "fleet.yaml:5:13: Unresolved tag: !override; skiff reads plain YAML (Compose's !reset and !override are not supported yet)");
      refuse('services: {}\n---\nservices: {}\n', 'fleet.yaml:2:1: holds more than one YAML document (---); a fleet file is one document');
      refuse('', 'fleet.yaml:1:1: the file is empty: a fleet file needs services');
    });

    it('a dependency cycle, at the dependency that closes it', () => {
      const text = yaml('services:', '  a:', '    image: host', '    command: [x]', '    depends_on: [b]',
        '  b:', '    image: host', '    command: [x]', '    depends_on:', '      a:', '        condition: service_started');
      refuse(text, 'fleet.yaml:10:7 services.b.depends_on.a: dependency cycle: a → b → a');
      refuse(web('depends_on: [web]'), 'fleet.yaml:5:18 services.web.depends_on[0]: dependency cycle: web → web');
    });

    it("the container spec's own rules, placed at the key they came from", () => {
      refuse(web('working_dir: app'), 'fleet.yaml:5:18 services.web.working_dir: must be an absolute path, got "app"');
      refuse(web('volumes:', '  - /srv:/proc/x'),
        'fleet.yaml:6:9 services.web.volumes[0]: target must not be under /proc, which skiff sets up itself');
      refuse(web('x-skiff:', '  console: { buffer: 2GiB }'),
        'fleet.yaml:6:26 services.web.x-skiff.console.buffer: must be a whole number of bytes from 4096 to 16777216, got 2147483648');
      refuse(web('stop_grace_period: 48h'), 'fleet.yaml:5:24 services.web.stop_grace_period: must be a number of seconds from 0 to 86400, got 172800');
      refuse(web('hostname: "web_1"'),
        'fleet.yaml:5:15 services.web.hostname: must be a valid hostname (letters, digits, "-" and ".", at most 64), got "web_1"');
      refuse(web('stop_signal: SIGNOPE'), 'fleet.yaml:5:18 services.web.stop_signal: must be a signal name or number, got "SIGNOPE"');
      refuse(yaml('name: "my fleet"', 'services: {}'), 'fleet.yaml:1:7 name: must match [A-Za-z0-9][A-Za-z0-9_.-]{0,62}, got "my fleet"');
      refuse(yaml('services:', '  web: {image: host, command: [x]}'),
        'my fleet.yaml:1:1: the fleet is named after the file, but "my fleet" is not a valid name ([A-Za-z0-9][A-Za-z0-9_.-]{0,62}); set a top-level name',
        {}, 'my fleet.yaml');
    });

    it('errors inside a merged anchor point where the value was written', () => {
      refuse(yaml('x-defaults: &defaults', '  image: host', '  restart: sometimes', 'services:', '  web:', '    <<: *defaults', '    command: [x]'),
        'fleet.yaml:3:12 services.web.restart: must be no, always, unless-stopped or on-failure[:N], got "sometimes"');
    });
  });

  describe('good files', () => {
    it('keeps a label named __proto__ or constructor, in either form (found while fuzzing: __proto__ vanished)', () => {
      for (const form of [['labels:', '  __proto__: x', '  constructor: y'], ['labels: [__proto__=x, constructor=y]']]) {
        const spec = parseFleet(web(...form), 'fleet.yaml').services[0]?.specs[0];
        expect(Object.entries(spec?.labels ?? {}).filter(([k]) => !k.startsWith('skiff.'))).to.deep.equal([['__proto__', 'x'], ['constructor', 'y']]);
        expect(Object.getPrototypeOf(spec?.labels)).to.equal(Object.prototype);
      }
    });

    it('accepts a Compose file written for Docker, unchanged', () => {
      const compose = yaml(
        'version: "3.8"',
        'services:',
        '  db:',
        '    image: host',
        '    command: ["/bin/sh", "-c", "echo ready; sleep infinity"]',
        '    restart: unless-stopped',
        '    environment:',
        '      - POSTGRES_USER=app',
        '      - POSTGRES_DB=app',
        '    volumes:',
        '      - /srv/db:/var/lib/db',
        '      - type: tmpfs',
        '        target: /var/cache',
        '        tmpfs:',
        '          size: 64m',
        '    stop_signal: SIGINT',
        '    stop_grace_period: 1m30s',
        '    labels:',
        '      - "com.example.role=database"',
        '  migrate:',
        '    image: host',
        '    entrypoint: /bin/sh -c',
        '    command: ["echo migrated"]',
        '    depends_on:',
        '      db:',
        '        condition: service_started',
        '    restart: "no"',
        '  app:',
        '    image: host',
        '    command: /bin/sh -c "echo serving on $$HOSTNAME; sleep infinity"',
        '    working_dir: /srv/app',
        '    hostname: app',
        '    tty: true',
        '    network_mode: host',
        '    tmpfs:',
        '      - /run',
        '      - /tmp:size=16m',
        '    environment:',
        '      LOG_LEVEL: info',
        '      WORKERS: 4',
        '      DEBUG: false',
        '    labels:',
        '      com.example.role: frontend',
        '    depends_on:',
        '      migrate:',
        '        condition: service_completed_successfully',
        '      db:',
        '        condition: service_started',
        '        required: true',
        '    deploy:',
        '      replicas: 2',
      );
      const fleet = parseFleet(compose, '/srv/shop/docker-compose.yml');
      expect(fleet.name).to.equal('docker-compose');
      expect(fleet.services.map((s) => [s.name, s.replicas])).to.deep.equal([['db', 1], ['migrate', 1], ['app', 2]]);
      const [db, migrate, app] = fleet.services.map((s) => s.specs[0]);
      expect(db?.mounts).to.deep.equal([
        { type: 'bind', source: '/srv/db', target: '/var/lib/db', readOnly: false },
        { type: 'tmpfs', target: '/var/cache', size: 64 << 20 },
      ]);
      expect(db?.stopSignal).to.equal('SIGINT');
      expect(db?.stopTimeout).to.equal(90);
      expect(db?.restart).to.deep.equal({ name: 'unless-stopped' });
      expect(db?.env).to.include.members(['POSTGRES_USER=app', 'POSTGRES_DB=app']);
      expect(db?.labels['com.example.role']).to.equal('database');
      expect(migrate?.command).to.deep.equal(['/bin/sh', '-c', 'echo migrated']);
      expect(fleet.services[2]?.dependsOn).to.deep.equal([
        { service: 'migrate', condition: 'service_completed_successfully' },
        { service: 'db', condition: 'service_started' },
      ]);
      expect(app?.workdir).to.equal('/srv/app');
      expect(app?.hostname).to.equal('app');
      expect(app?.tty).to.equal(true);
      expect(app?.network).to.equal('host');
      expect(app?.env).to.include.members(['LOG_LEVEL=info', 'WORKERS=4', 'DEBUG=false']);
      expect(app?.mounts).to.deep.equal([{ type: 'tmpfs', target: '/run', size: null }, { type: 'tmpfs', target: '/tmp', size: 16 << 20 }]);
      expect(serviceOrder(fleet)).to.deep.equal([['db'], ['migrate'], ['app']]);
    });

    it('applies merge keys: explicit keys win, then earlier sources', () => {
      const fleet = parseFleet(yaml(
        'x-base: &base',
        '  image: host',
        '  command: [base]',
        '  restart: always',
        '  environment: { FROM: base }',
        'x-quiet: &quiet',
        '  restart: on-failure:2',
        '  stop_signal: INT',
        'services:',
        '  web:',
        '    <<: [*quiet, *base]',
        '    command: [own]',
      ), 'fleet.yaml');
      const spec = fleet.services[0]?.specs[0];
      expect(spec?.command).to.deep.equal(['own']);
      expect(spec?.restart).to.deep.equal({ name: 'on-failure', maxRetries: 2 });
      expect(spec?.stopSignal).to.equal('SIGINT');
      expect(spec?.env).to.include('FROM=base');
    });

    it('ignores x- keys at every level', () => {
      const fleet = parseFleet(yaml(
        'x-owner: team-a',
        'services:',
        '  web:',
        '    x-note: { anything: [1, 2] }',
        '    image: host',
        '    command: [x]',
        '    deploy: { replicas: 2, x-tier: gold }',
        '    volumes:',
        '      - { type: bind, source: /srv, target: /srv, x-why: shared }',
        '    x-skiff: { job: true, x-later: 1 }',
      ), 'fleet.yaml');
      expect(fleet.services[0]?.replicas).to.equal(2);
      expect(fleet.services[0]?.job).to.equal(true);
    });

    it('splits command strings like a POSIX shell, entrypoint first', () => {
      const argv = (...lines: string[]): string[] | undefined =>
        parseFleet(yaml('services:', '  web:', '    image: host', ...lines.map((l) => `    ${l}`)), 'fleet.yaml').services[0]?.specs[0]?.command;
      expect(argv(`command: /bin/sh -c 'echo "$SKIFF_REPLICA" done'`)).to.deep.equal(['/bin/sh', '-c', 'echo "$SKIFF_REPLICA" done']);
      expect(argv('entrypoint: [/bin/sh, -c]', 'command: ["echo hi"]')).to.deep.equal(['/bin/sh', '-c', 'echo hi']);
      // As in Docker, a command string is split too, even after an entrypoint.
      expect(argv('entrypoint: /bin/echo', 'command: "a b"')).to.deep.equal(['/bin/echo', 'a', 'b']);
      expect(argv('command: [sleep, 10]')).to.deep.equal(['sleep', '10']);
      expect(argv('command: >', "  sh -c 'echo a;", "  echo b'")).to.deep.equal(['sh', '-c', 'echo a; echo b']);

      expect(shellSplit('a  b\tc\nd')).to.deep.equal(['a', 'b', 'c', 'd']);
      expect(shellSplit(`a '' "" b`)).to.deep.equal(['a', '', '', 'b']);
      expect(shellSplit(`'it''s' "x y"z`)).to.deep.equal(['its', 'x yz']);
      expect(shellSplit('a\\ b c\\\\d')).to.deep.equal(['a b', 'c\\d']);
      expect(shellSplit('"\\$HOME \\"q\\" \\n"')).to.deep.equal(['$HOME "q" \\n']);
      expect(shellSplit("'\\n $x'")).to.deep.equal(['\\n $x']);
      expect(shellSplit('a \\\nb')).to.deep.equal(['a', 'b']);
      expect(shellSplit('echo a && echo b | wc')).to.deep.equal(['echo', 'a', '&&', 'echo', 'b', '|', 'wc']);
      expect(() => shellSplit('"open')).to.throw('unterminated double quote');
      expect(() => shellSplit('a\\')).to.throw('ends with a lone backslash');
    });

    it('reads Compose durations', () => {
      const cases: [string, number | null][] = [
        ['10s', 10], ['1m30s', 90], ['500ms', 0.5], ['1h', 3600], ['1.5h', 5400], ['2h45m', 9900], ['0', 0],
        ['100us', 0.0001], ['0.1s', 0.1], ['1m0.5s', 60.5],
        ['10', null], ['-1s', null], ['1x', null], ['', null], ['s', null], ['1 s', null], ['1s ', null],
      ];
      for (const [text, seconds] of cases) expect(parseDuration(text), text).to.equal(seconds);
      expect(parseFleet(web('stop_grace_period: 500ms'), 'fleet.yaml').services[0]?.specs[0]?.stopTimeout).to.equal(0.5);
    });

    it('reads sizes with units', () => {
      const cases: [string | number, number | null][] = [
        ['256KiB', 262144], ['64k', 65536], ['64kb', 65536], ['1m', 1 << 20], ['1MiB', 1 << 20], ['2G', 2 ** 31],
        ['512', 512], ['512b', 512], ['1.5k', 1536], [4096, 4096],
        ['abc', null], ['-1k', null], ['1kk', null], ['', null], [1.5, null],
      ];
      for (const [text, bytes] of cases) expect(parseSize(text), String(text)).to.equal(bytes);
      const spec = parseFleet(web('x-skiff:', '  console: { buffer: 256KiB, logMax: 4m, log: true }'), 'fleet.yaml').services[0]?.specs[0];
      expect(spec?.console).to.deep.equal({ buffer: 262144, logMax: 4 << 20, log: true });
    });

    it('names each replica, gives it its own hostname, environment and labels', () => {
      const fleet = parseFleet(yaml(
        'name: shop',
        'services:',
        '  web_front:',
        '    image: host',
        '    command: [x]',
        '    environment: { MODE: prod }',
        '    labels: { tier: front }',
        '    deploy: { replicas: 3 }',
      ), 'whatever.yaml');
      const service = fleet.services[0];
      expect(fleet.name).to.equal('shop');
      expect(service?.specs.map((s) => s.name)).to.deep.equal(['shop-web_front-1', 'shop-web_front-2', 'shop-web_front-3']);
      expect(service?.specs.map((s) => s.hostname)).to.deep.equal(['shop-web-front-1', 'shop-web-front-2', 'shop-web-front-3']);
      const second = service?.specs[1];
      expect(second?.env).to.deep.equal([
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'MODE=prod', 'SKIFF_FLEET=shop', 'SKIFF_SERVICE=web_front', 'SKIFF_REPLICA=2',
      ]);
      expect(second?.labels).to.deep.equal({
        tier: 'front', 'skiff.fleet': 'shop', 'skiff.service': 'web_front', 'skiff.replica': '2', 'skiff.config-hash': service?.configHash,
      });
    });

    it('gives each replica its own log file when the log is a directory', () => {
      const specs = parseFleet(web('scale: 2', 'x-skiff: { console: { log: /var/log/skiff } }'), 'demo.yml').services[0]?.specs;
      expect(specs?.map((s) => s.console.log)).to.deep.equal(['/var/log/skiff/demo-web-1.log', '/var/log/skiff/demo-web-2.log']);
    });

    it('reads a registry image: the reference made canonical, the pull policy, and what the service sets apart from the image', () => {
      const f = parseFleet(yaml('services:',
        '  web: { image: nginx, entrypoint: [/bin/sh, -c], working_dir: /srv, environment: [A=1], stop_signal: INT }',
        '  job: { image: "127.0.0.1:5000/app:2", pull_policy: if_not_present, healthcheck: { disable: true } }',
        '  pinned: { image: "busybox@sha256:' + 'a'.repeat(64) + '", pull_policy: always, healthcheck: { test: "true" } }'), 'fleet.yaml');
      expect(f.services.map((s) => s.image)).to.deep.equal([
        { ref: 'docker.io/library/nginx:latest', pullPolicy: 'missing', entrypoint: ['/bin/sh', '-c'], command: null, workdir: '/srv', env: ['A=1'], stopSignal: 'SIGINT', imageHealthcheck: true },
        { ref: '127.0.0.1:5000/app:2', pullPolicy: 'missing', entrypoint: null, command: null, workdir: null, env: [], stopSignal: null, imageHealthcheck: false },
        { ref: `docker.io/library/busybox@sha256:${'a'.repeat(64)}`, pullPolicy: 'always', entrypoint: null, command: null, workdir: null, env: [], stopSignal: null, imageHealthcheck: false },
      ]);
      // The pull policy and the reference are part of the config hash; host services carry no image.
      const again = parseFleet(yaml('services:', '  job: { image: "127.0.0.1:5000/app:2", pull_policy: always }'), 'fleet.yaml');
      expect(again.services[0]!.configHash).to.not.equal(f.services[1]!.configHash);
      expect(parseFleet(yaml('services:', '  h: { image: host, command: [x] }'), 'fleet.yaml').services[0]!.image).to.equal(null);
    });

    it('reads x-skiff.resources at the top: limits on the fleet as a whole, in the spec\'s units', () => {
      const f = parseFleet(yaml('x-skiff:', '  resources: { memory: 1g, memswap: -1, cpus: 2.5, cpu_shares: 512, pids: 300, cpuset: "0-1" }',
        'services:', '  web: { image: host, command: [x] }'), 'fleet.yaml');
      expect(f.resources).to.deep.equal({ memory: 1 << 30, memorySwap: -1, memoryReservation: null, cpuQuota: 250000, cpuPeriod: 100000, cpuShares: 512, pidsLimit: 300, cpusetCpus: '0-1', cpusetMems: null });
      expect(parseFleet(yaml('services:', '  web: { image: host, command: [x] }'), 'fleet.yaml').resources).to.equal(null);
    });

    it('resolves relative host paths against the fleet file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'skiff-fleet-'));
      try {
        const file = join(dir, 'rel.yaml');
        writeFileSync(file, web('volumes: ["./data:/data:ro"]'));
        const spec = (await loadFleetFile(file)).services[0]?.specs[0];
        expect(spec?.mounts).to.deep.equal([{ type: 'bind', source: join(dir, 'data'), target: '/data', readOnly: true }]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('orders services in dependency levels', () => {
      const fleet = parseFleet(yaml(
        'services:',
        '  web: { image: host, command: [x], depends_on: [api, cache] }',
        '  api: { image: host, command: [x], depends_on: [db] }',
        '  db: { image: host, command: [x] }',
        '  cache: { image: host, command: [x] }',
        '  batch: { image: host, command: [x], depends_on: { web: { condition: service_started } } }',
      ), 'fleet.yaml');
      expect(serviceOrder(fleet)).to.deep.equal([['db', 'cache'], ['api'], ['web'], ['batch']]);
    });
  });

  describe('the config hash', () => {
    const base = ['x-a: 1', 'services:', '  web:', '    image: host', '    command: [/bin/sleep, "60"]', '    deploy: { replicas: 2 }'];
    const hash = (text: string): string | undefined => parseFleet(text, 'fleet.yaml').services[0]?.configHash;

    it('is stable: the same in every replica, every parse and another process', () => {
      const fleet = parseFleet(yaml(...base), 'fleet.yaml');
      const h = fleet.services[0]?.configHash ?? '';
      expect(h).to.match(/^[0-9a-f]{64}$/);
      expect(fleet.services[0]?.specs.map((s) => s.labels['skiff.config-hash'])).to.deep.equal([h, h]);
      expect(hash(yaml(...base))).to.equal(h);
      const script = `import { parseFleet } from ${JSON.stringify(join(ROOT, 'src/compose/fleet.ts'))};` +
        `process.stdout.write(parseFleet(${JSON.stringify(yaml(...base))}, 'fleet.yaml').services[0].configHash);`;
      const other = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
      expect(other).to.equal(h);
    });

    it('ignores key order, defaults written out and the replica count', () => {
      const h = hash(yaml(...base));
      const reordered = yaml('services:', '  web:', '    deploy: { replicas: 5 }', '    command: "/bin/sleep 60"', '    restart: "no"',
        '    network_mode: none', '    working_dir: /', '    image: host');
      expect(hash(reordered)).to.equal(h);
    });

    it('changes when the command changes, and only for that service', () => {
      const two = (cmd: string): (string | undefined)[] => parseFleet(yaml('services:', `  web: { image: host, command: ${cmd} }`,
        '  worker: { image: host, command: [/bin/true] }'), 'fleet.yaml').services.map((s) => s.configHash);
      const [web1, worker1] = two('[/bin/sleep, "60"]');
      const [web2, worker2] = two('[/bin/sleep, "61"]');
      expect(web2).to.not.equal(web1);
      expect(worker2).to.equal(worker1);
      expect(hash(yaml(...base, '    environment: [A=1]'))).to.not.equal(hash(yaml(...base)));
    });
  });

  describe('the example fleets in config/', () => {
    it('config/demo.yaml: three web replicas and a worker that depends on them, on the host rootfs', async () => {
      const fleet = await loadFleetFile(join(ROOT, 'config/demo.yaml'));
      expect(fleet.name).to.equal('demo');
      expect(fleet.services.map((s) => [s.name, s.replicas, s.job])).to.deep.equal([['web', 3, false], ['worker', 1, false]]);
      expect(serviceOrder(fleet)).to.deep.equal([['web'], ['worker']]);
      for (const spec of fleet.services.flatMap((s) => s.specs)) {
        expect(spec.rootfs).to.equal('host');
        expect(spec.image).to.equal(null);
        expect(spec.command[0]).to.equal('/bin/sh');
        expect(spec.console.buffer).to.equal(64 << 10);
      }
      expect(fleet.services[1]?.specs[0]?.command).to.have.length(3);
    });

    it('config/loadtest.yaml: 50 batch jobs after a preparation job', async () => {
      const fleet = await loadFleetFile(join(ROOT, 'config/loadtest.yaml'));
      expect(fleet.name).to.equal('loadtest');
      expect(fleet.services.map((s) => [s.name, s.replicas, s.job])).to.deep.equal([['prepare', 1, true], ['probe', 50, true]]);
      expect(fleet.services[1]?.dependsOn).to.deep.equal([{ service: 'prepare', condition: 'service_completed_successfully' }]);
      expect(fleet.services[1]?.specs[49]?.name).to.equal('loadtest-probe-50');
      expect(fleet.services[1]?.specs[0]?.restart).to.deep.equal({ name: 'no' });
    });
  });
});
