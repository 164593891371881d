// validateSpec: defaults, and the exact error each bad field gets (the field named by its path).
import { expect } from 'chai';
import { DEFAULT_PATH, SpecError, validateSpec } from '../../src/spec/container.js';

const base = { name: 'web', command: ['/bin/true'] };

function rejects(input: unknown, message: string, field: string): void {
  let caught: unknown;
  try {
    validateSpec(input);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'validateSpec should throw').to.be.instanceOf(SpecError);
  expect((caught as SpecError).message).to.equal(message);
  expect((caught as SpecError).field).to.equal(field);
}

describe('validateSpec', () => {
  describe('defaults', () => {
    it('fills in every default for a minimal spec', () => {
      expect(validateSpec(base)).to.deep.equal({
        name: 'web',
        command: ['/bin/true'],
        hostname: 'web',
        env: [`PATH=${DEFAULT_PATH}`],
        workdir: '/',
        rootfs: 'host',
        image: null,
        fromImage: null,
        user: null,
        mounts: [],
        network: 'none',
        networkAliases: [],
        ports: [],
        dns: null,
        tty: false,
        openStdin: false,
        stdinOnce: false,
        restart: { name: 'no' },
        stopSignal: 'SIGTERM',
        stopTimeout: 10,
        console: { buffer: 1 << 20, log: false, logMax: 10 << 20 },
        labels: {},
        capabilities: { add: [], drop: [] },
        noNewPrivileges: true,
        seccomp: 'default',
        resources: { memory: null, memorySwap: null, memoryReservation: null, cpuQuota: null, cpuPeriod: null, cpuShares: null, pidsLimit: null, cpusetCpus: null, cpusetMems: null },
        healthcheck: null,
        restartOnUnhealthy: false,
      });
    });

    it('normalizes capability names: with or without CAP_, any case, ALL', () => {
      expect(validateSpec({ ...base, capabilities: { add: ['net_admin', 'Cap_Sys_Time'], drop: ['all'] }, noNewPrivileges: false }))
        .to.deep.include({ capabilities: { add: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'], drop: ['ALL'] }, noNewPrivileges: false });
    });

    it('derives the hostname from the name, replacing "_" and "."', () => {
      expect(validateSpec({ ...base, name: 'my_app.v2' }).hostname).to.equal('my-app-v2');
    });

    it('keeps a PATH the spec gives and adds none', () => {
      expect(validateSpec({ ...base, env: ['PATH=/opt/bin', 'A=1'] }).env).to.deep.equal(['PATH=/opt/bin', 'A=1']);
    });

    it('accepts env as a map', () => {
      expect(validateSpec({ ...base, env: { A: '1', B: 2, C: null } }).env).to.deep.equal([`PATH=${DEFAULT_PATH}`, 'A=1', 'B=2', 'C=']);
    });

    it('normalizes paths: trailing and doubled slashes', () => {
      const s = validateSpec({ ...base, rootfs: '/srv//root/', workdir: '/work/', mounts: [{ source: '/data/', target: '/mnt//data' }] });
      expect(s.rootfs).to.equal('/srv/root');
      expect(s.workdir).to.equal('/work');
      expect(s.mounts).to.deep.equal([{ type: 'bind', source: '/data', target: '/mnt/data', readOnly: false }]);
    });

    it('fills in mount defaults: bind read-write, tmpfs without a size', () => {
      const s = validateSpec({ ...base, mounts: [{ source: '/a', target: '/b', readOnly: true }, { type: 'tmpfs', target: '/scratch' }, { type: 'tmpfs', target: '/s2', size: 4096 }] });
      expect(s.mounts).to.deep.equal([
        { type: 'bind', source: '/a', target: '/b', readOnly: true },
        { type: 'tmpfs', target: '/scratch', size: null },
        { type: 'tmpfs', target: '/s2', size: 4096 },
      ]);
    });

    it('takes "host" for rootfs as the default rootfs and accepts an image', () => {
      const s = validateSpec({ ...base, rootfs: 'host', image: '/images/busybox' });
      expect([s.rootfs, s.image]).to.deep.equal(['host', '/images/busybox']);
    });

    it('parses restart policies and signals', () => {
      expect(validateSpec({ ...base, restart: 'on-failure:3' }).restart).to.deep.equal({ name: 'on-failure', maxRetries: 3 });
      expect(validateSpec({ ...base, stopSignal: 'int' }).stopSignal).to.equal('SIGINT');
      expect(validateSpec({ ...base, stopSignal: 9 }).stopSignal).to.equal('9');
      expect(validateSpec({ ...base, stopSignal: '064' }).stopSignal).to.equal('64');
    });
  });

  describe('rejections', () => {
    it('refuses unknown capability names, naming the entry', () => {
      rejects({ ...base, capabilities: { add: ['NET_ADMIN', 'CAP_FLY'] } }, 'capabilities.add[1] is not a known capability (e.g. CAP_NET_ADMIN, NET_ADMIN or ALL), got "CAP_FLY"', 'capabilities.add[1]');
      rejects({ ...base, capabilities: { drop: [7] } }, 'capabilities.drop[0] must be a string, got 7', 'capabilities.drop[0]');
      rejects({ ...base, capabilities: { drop: 'ALL' } }, 'capabilities.drop must be a list of capability names, got "ALL"', 'capabilities.drop');
      rejects({ ...base, capabilities: { keep: [] } }, 'capabilities.keep is not a known field (known: add, drop)', 'capabilities.keep');
      rejects({ ...base, capabilities: ['ALL'] }, 'capabilities must be an object with add and drop lists, got an array', 'capabilities');
    });

    it('refuses a seccomp other than default, unconfined or a profile already read (validateSpec reads no file)', () => {
      rejects({ ...base, seccomp: '/etc/profile.json' }, 'seccomp must be default, unconfined or { profile, source } (a profile file is read by the CLI), got "/etc/profile.json"', 'seccomp');
      expect(validateSpec({ ...base, seccomp: 'unconfined' }).seccomp).to.equal('unconfined');
    });

    it('refuses a noNewPrivileges that is not a boolean', () => {
      rejects({ ...base, noNewPrivileges: 'yes' }, 'noNewPrivileges must be true or false, got "yes"', 'noNewPrivileges');
    });

    it('refuses an invalid hostname', () => {
      rejects({ ...base, hostname: 'bad_host!' }, 'hostname must be a valid hostname (letters, digits, "-" and ".", at most 64), got "bad_host!"', 'hostname');
    });

    it('refuses a hostname longer than 64 bytes', () => {
      const long = `${'a'.repeat(40)}.${'b'.repeat(30)}`;
      rejects({ ...base, hostname: long }, `hostname must be a valid hostname (letters, digits, "-" and ".", at most 64), got ${JSON.stringify(`${long.slice(0, 60)}…`)}`, 'hostname');
    });

    it('refuses an empty hostname label', () => {
      rejects({ ...base, hostname: 'a..b' }, 'hostname must be a valid hostname (letters, digits, "-" and ".", at most 64), got "a..b"', 'hostname');
    });

    it('refuses argv with a NUL byte, naming the argument', () => {
      rejects({ ...base, command: ['/bin/echo', 'a\0b'] }, 'command[1] must not contain NUL bytes', 'command[1]');
    });

    it('refuses an empty command and an empty argv[0]', () => {
      rejects({ ...base, command: [] }, 'command must be a non-empty list of strings, got an array', 'command');
      rejects({ name: 'web' }, 'command must be a non-empty list of strings, got undefined', 'command');
      rejects({ ...base, command: [''] }, 'command[0] must not be empty', 'command[0]');
      rejects({ ...base, command: ['/bin/true', 3] }, 'command[1] must be a string, got 3', 'command[1]');
    });

    it('refuses a relative mount target', () => {
      rejects({ ...base, mounts: [{ source: '/tmp', target: 'data' }] }, 'mounts[0].target must be an absolute path, got "data"', 'mounts[0].target');
    });

    it('refuses ".." in a mount path', () => {
      rejects({ ...base, mounts: [{ source: '/tmp', target: '/data' }, { source: '/srv/../etc', target: '/x' }] },
        'mounts[1].source must not contain "..", got "/srv/../etc"', 'mounts[1].source');
    });

    it('refuses mounts on / and under the directories skiff sets up', () => {
      rejects({ ...base, mounts: [{ source: '/tmp', target: '/' }] }, 'mounts[0].target must not be / (use rootfs or image)', 'mounts[0].target');
      rejects({ ...base, mounts: [{ type: 'tmpfs', target: '/proc/sys' }] }, 'mounts[0].target must not be under /proc, which skiff sets up itself', 'mounts[0].target');
      rejects({ ...base, mounts: [{ source: '/tmp', target: '/dev' }] }, 'mounts[0].target must not be under /dev, which skiff sets up itself', 'mounts[0].target');
    });

    it('refuses a bind mount without a source, an unknown mount type, unknown mount fields and a bad tmpfs size', () => {
      rejects({ ...base, mounts: [{ target: '/data' }] }, 'mounts[0].source is required for a bind mount', 'mounts[0].source');
      rejects({ ...base, mounts: [{ type: 'nfs', target: '/data' }] }, 'mounts[0].type must be bind or tmpfs, got "nfs"', 'mounts[0].type');
      rejects({ ...base, mounts: [{ source: '/a', target: '/b', ro: true }] }, 'mounts[0].ro is not a known field (known: type, source, target, readOnly)', 'mounts[0].ro');
      rejects({ ...base, mounts: [{ type: 'tmpfs', target: '/t', size: -1 }] }, 'mounts[0].size must be a positive integer, got -1', 'mounts[0].size');
      rejects({ ...base, mounts: [{ source: '/a', target: '/b', readOnly: 'yes' }] }, 'mounts[0].readOnly must be true or false, got "yes"', 'mounts[0].readOnly');
    });

    it('refuses an unknown top-level field, listing the known ones', () => {
      rejects({ ...base, colour: 'red' }, 'colour is not a known field (known: name, command, hostname, env, workdir, rootfs, image, fromImage, user, mounts, network, networkAliases, ports, dns, tty, openStdin, stdinOnce, restart, stopSignal, stopTimeout, console, labels, capabilities, noNewPrivileges, seccomp, resources, healthcheck, restartOnUnhealthy)', 'colour');
    });

    it('quotes an unknown key that is empty or not a plain word (found by the fuzzer)', () => {
      rejects({ ...base, '': 1 }, '"" is not a known field (known: name, command, hostname, env, workdir, rootfs, image, fromImage, user, mounts, network, networkAliases, ports, dns, tty, openStdin, stdinOnce, restart, stopSignal, stopTimeout, console, labels, capabilities, noNewPrivileges, seccomp, resources, healthcheck, restartOnUnhealthy)', '""');
      rejects({ ...base, console: { 'a b': 1 } }, 'console."a b" is not a known field (known: buffer, log, logMax)', 'console."a b"');
    });

    it('console bounds are the forwarder\'s, and a log path is never under /proc, /sys or /dev (found by the fuzzer)', () => {
      rejects({ ...base, console: { buffer: 416 } }, 'console.buffer must be a whole number of bytes from 4096 to 16777216, got 416', 'console.buffer');
      rejects({ ...base, console: { buffer: (16 << 20) + 1 } }, 'console.buffer must be a whole number of bytes from 4096 to 16777216, got 16777217', 'console.buffer');
      rejects({ ...base, console: { logMax: 100 } }, 'console.logMax must be a whole number of bytes from 4096, got 100', 'console.logMax');
      for (const log of ['/proc/self/fd/3', '/dev/sda', '/sys/kernel/x', '/proc']) {
        rejects({ ...base, console: { log } }, `console.log must be a file, not under /proc, /sys or /dev, got "${log}"`, 'console.log');
      }
      expect(validateSpec({ ...base, console: { log: '/var/log/devices.log', buffer: 4096 } }).console).to.deep.include({ log: '/var/log/devices.log', buffer: 4096 });
    });

    it('refuses an on-failure retry count beyond an int (found by the fuzzer)', () => {
      rejects({ ...base, restart: 'on-failure:99999999999999999999' }, 'restart on-failure allows at most 2147483647 retries, got "on-failure:99999999999999999999"', 'restart');
    });

    it('refuses an unknown console field', () => {
      rejects({ ...base, console: { ring: 1 } }, 'console.ring is not a known field (known: buffer, log, logMax)', 'console.ring');
    });

    it('refuses a name with "/" or "..", or none at all', () => {
      const pattern = 'must match [A-Za-z0-9][A-Za-z0-9_.-]{0,62}';
      rejects({ ...base, name: 'a/b' }, `name ${pattern}, got "a/b"`, 'name');
      rejects({ ...base, name: '..' }, `name ${pattern}, got ".."`, 'name');
      rejects({ ...base, name: '../etc' }, `name ${pattern}, got "../etc"`, 'name');
      rejects({ ...base, name: 'x'.repeat(64) }, `name ${pattern}, got ${JSON.stringify(`${'x'.repeat(60)}…`)}`, 'name');
      rejects({ command: ['/bin/true'] }, 'name must be a string, got undefined', 'name');
    });

    it('refuses a relative rootfs or workdir, and an image together with a rootfs', () => {
      rejects({ ...base, rootfs: 'srv/root' }, 'rootfs must be an absolute path, got "srv/root"', 'rootfs');
      rejects({ ...base, workdir: 'tmp' }, 'workdir must be an absolute path, got "tmp"', 'workdir');
      rejects({ ...base, rootfs: '/srv/root', image: '/images/a' }, 'image cannot be combined with rootfs: choose one', 'image');
    });

    it('refuses a workdir under /proc, whose magic links lead outside the root', () => {
      rejects({ ...base, workdir: '/proc/self/fd/7' }, 'workdir must not be under /proc (its links can lead outside the container), got "/proc/self/fd/7"', 'workdir');
      rejects({ ...base, workdir: '/proc//1/cwd/' }, 'workdir must not be under /proc (its links can lead outside the container), got "/proc/1/cwd"', 'workdir');
      rejects({ ...base, workdir: '/proc' }, 'workdir must not be under /proc (its links can lead outside the container), got "/proc"', 'workdir');
      expect(validateSpec({ ...base, workdir: '/processes' }).workdir).to.equal('/processes');
    });

    it('refuses an image path that would break the overlay options', () => {
      rejects({ ...base, image: '/images/a,upperdir=/etc' }, 'image must not contain "," or ":" (overlay options), got "/images/a,upperdir=/etc"', 'image');
    });

    it('refuses bad env entries', () => {
      rejects({ ...base, env: ['NOEQUALS'] }, 'env[0] must be KEY=VALUE, got "NOEQUALS"', 'env[0]');
      rejects({ ...base, env: ['=v'] }, 'env[0] must be KEY=VALUE, got "=v"', 'env[0]');
      rejects({ ...base, env: ['A=1', 'B=x\0y'] }, 'env[1] must not contain NUL bytes', 'env[1]');
      rejects({ ...base, env: 'A=1' }, 'env must be a list of KEY=VALUE or a map, got "A=1"', 'env');
    });

    it('refuses a bad network, restart policy, stop signal, stop timeout, tty and labels', () => {
      rejects({ ...base, network: 'no such' }, 'network must be none, host or a network\'s name, got "no such"', 'network');
      rejects({ ...base, restart: 'sometimes' }, 'restart must be no, always, unless-stopped or on-failure[:N], got "sometimes"', 'restart');
      rejects({ ...base, stopSignal: 'FOO' }, 'stopSignal must be a signal name or number, got "FOO"', 'stopSignal');
      rejects({ ...base, stopTimeout: -1 }, 'stopTimeout must be a number of seconds from 0 to 86400, got -1', 'stopTimeout');
      rejects({ ...base, tty: 'yes' }, 'tty must be true or false, got "yes"', 'tty');
      rejects({ ...base, labels: ['a'] }, 'labels must be a map of strings, got an array', 'labels');
    });

    it('refuses something that is not an object', () => {
      rejects(null, 'spec must be an object, got null', 'spec');
      rejects(['x'], 'spec must be an object, got an array', 'spec');
    });
  });
});

describe('validateSpec: stored images and users', () => {
  const base = { name: 'web', command: ['/bin/true'] };
  const id = `sha256:${'a'.repeat(64)}`;
  it('takes fromImage with layer directories, and refuses one with rootfs or with overlay separators', () => {
    expect(validateSpec({ ...base, fromImage: { ref: 'bb', id, layers: ['/s/l/2', '/s/l/1'] } }).fromImage).to.deep.equal({ ref: 'bb', id, layers: ['/s/l/2', '/s/l/1'] });
    expect(() => validateSpec({ ...base, rootfs: '/r', fromImage: { ref: 'bb', id, layers: ['/s'] } })).to.throw('fromImage cannot be combined with image or rootfs: choose one');
    expect(() => validateSpec({ ...base, fromImage: { ref: 'bb', id, layers: ['/s:x'] } })).to.throw('fromImage.layers[0] must not contain "," or ":" (overlay options), got "/s:x"');
    // Past mount(2)'s page of options, the plan mounts through the new mount API; overlayfs's own bound is 500.
    const layers = (n: number) => Array.from({ length: n }, (_, i) => `/var/lib/skiff/.skiffd/images/layers/${String(i).padStart(64, '0')}`);
    expect(validateSpec({ ...base, fromImage: { ref: 'bb', id, layers: layers(500) } }).fromImage?.layers).to.have.length(500);
    expect(() => validateSpec({ ...base, fromImage: { ref: 'bb', id, layers: layers(501) } }))
      .to.throw('fromImage.layers are 501 layers, more than the 500 overlayfs can stack');
  });
  it('takes a user of uid, gid and at most 6 groups', () => {
    expect(validateSpec({ ...base, user: { uid: 1000, gid: 100, groups: [100] } }).user).to.deep.equal({ uid: 1000, gid: 100, groups: [100] });
    expect(() => validateSpec({ ...base, user: { uid: -1, gid: 0 } })).to.throw('user.uid must be a whole number from 0 to 4294967294, got -1');
    expect(() => validateSpec({ ...base, user: { uid: 1, gid: 1, groups: [1, 2, 3, 4, 5, 6, 7] } })).to.throw('user.groups must be a list of at most 6 group ids, got an array');
  });
});
