// A TTY exec's pty is made in the container's own devpts (as runc makes it), not on the host:
// `tty` inside names a /dev/pts/N that exists inside, on the container's devpts, owned as that
// devpts says (and by the exec's user); `docker exec -it` through a real pty and a resize mid-run work; and when the exec
// ends, nothing is left: no /dev/pts/N inside, no pty fd in skiffd, its launchers or its keeper.
import { spawn } from 'node:child_process';
import { readlinkSync, readdirSync, statSync } from 'node:fs';
import { expect } from 'chai';
import Docker from 'dockerode';
import { requireDocker, until, useDaemon } from '../support/daemon.js';
import { childPids } from '../../src/sys/proc.js';

const SLEEPER = ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait'];

/** Every fd of a process that is a pty (either end) or ptmx, by its link. */
function ptyFds(pid: number): string[] {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${n}`);
      return /^\/dev\/(pts\/|ptmx)/.test(link) ? [`${pid}:${n} ${link}`] : [];
    } catch {
      return [];
    }
  });
}

describe('exec -t: a pty in the container\'s own devpts', function () {
  this.timeout(60_000);
  before(requireDocker);
  const d = useDaemon(['--docker-network', 'none']);
  let pid1 = 0;

  before(async () => {
    // A busybox-less host rootfs container: its /dev is skiff's, with a devpts of its own.
    const r = await d.api('POST', '/containers/create?name=pty-web', { Image: 'host', Cmd: SLEEPER });
    expect(r.status, r.text).to.equal(201);
    expect((await d.api('POST', '/containers/pty-web/start')).status).to.equal(204);
    pid1 = (await d.inspect('pty-web')).State.Pid;
  });
  /** skiffd, its launchers and its console keeper: the processes that handle a pty master. */
  const handlers = (): number[] => [d.pid, ...childPids(d.pid).filter((p) => d.isLauncher(p) || d.isKeeper(p))];

  it('docker exec -t web tty prints a /dev/pts/N of the container\'s devpts, owned as it says; the host has no such pty', async () => {
    const hostPts = statSync('/dev/pts/ptmx').dev;
    const r = await d.docker(['exec', '-t', 'pty-web', 'sh', '-c',
      't=$(tty); echo "$t"; stat -c "%d %u %g %a" "$t"; stat -c %d /dev/pts/ptmx; ls /dev/pts | tr "\\n" " "']);
    expect(r.code, r.stderr).to.equal(0);
    const [tty, ttyStat, ptsDev, listing] = r.stdout.split(/\r?\n/);
    expect(tty).to.match(/^\/dev\/pts\/\d+$/);
    const [dev, uid, gid, mode] = ttyStat!.split(' ');
    // the slave is on the container's devpts (the same device as its ptmx), not the host's
    expect(dev).to.equal(ptsDev);
    expect(Number(dev)).to.not.equal(hostPts);
    // owned by the exec's user (root), mode 0620 as the container's devpts is mounted (no gid= option: the opener's group)
    expect([uid, gid, mode]).to.deep.equal(['0', '0', '620']);
    expect(listing!.trim().split(' ')).to.include(tty!.slice('/dev/pts/'.length)).and.to.include('ptmx');
    // Another user's exec gets its pty given to it, as runc gives a console to the process's user.
    const other = await d.docker(['exec', '-t', '-u', '4242:4343', 'pty-web', 'sh', '-c', 'stat -c "%u %g %a" "$(tty)"']);
    expect([other.code, other.stdout]).to.deep.equal([0, '4242 4343 620\r\n']);
    // The pty was the container's: its number is gone from inside once the exec ended.
    const after = await d.docker(['exec', 'pty-web', 'ls', '/dev/pts']);
    expect(after.stdout).to.equal('ptmx\n');
  });

  it('docker exec -it web sh through a real pty (script): a prompt, tty inside, the exit code', async () => {
    const child = spawn('script', ['-qec', 'stty rows 31 cols 97; docker exec -it pty-web sh', '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, PS1: '# ' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const code = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until(() => /[#$] $/.test(out), 'the shell\'s prompt');
    child.stdin.write('tty; stty size; exit 5\n');
    expect(await code, out).to.equal(5);
    expect(out).to.match(/\n\/dev\/pts\/\d+\r+\n/);
    expect(out).to.match(/\n31 97\r+\n/);
  });

  it('a resize while it runs reaches the container\'s pty (dockerode exec.resize)', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const exec = await docker.getContainer('pty-web').exec({
      Cmd: ['sh', '-c', 'stty size; read x; stty size'], Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: true, Tty: true });
    let out = '';
    stream.on('data', (b: Buffer) => { out += b.toString(); });
    const ended = new Promise<void>((resolve) => stream.on('end', () => resolve()));
    await exec.resize({ h: 20, w: 70 });
    await until(() => /\d+ \d+\r?\n/.test(out), 'the first stty size');
    await exec.resize({ h: 44, w: 132 });
    stream.write('\n');
    await ended;
    expect(out.trim().split(/\r?\n/).at(-1)).to.equal('44 132');
    expect((await exec.inspect()).ExitCode).to.equal(0);
  });

  it('leaves nothing behind: no pty inside, no pty fd in skiffd, its launchers or its keeper, no exec process', async () => {
    for (let i = 0; i < 3; i++) expect((await d.docker(['exec', '-t', 'pty-web', 'true'])).code).to.equal(0);
    // A failed TTY exec (a command that is not there) too.
    expect((await d.docker(['exec', '-t', 'pty-web', 'nosuch'])).code).to.equal(127);
    await until(() => handlers().flatMap(ptyFds).length === 0 || null, 'no pty fd in skiffd, its launchers or its keeper')
      .catch(() => expect(handlers().flatMap(ptyFds)).to.deep.equal([]));
    expect((await d.docker(['exec', 'pty-web', 'ls', '/dev/pts'])).stdout).to.equal('ptmx\n');
    // Only PID 1 and its sleep are left in the container.
    const inside = childPids(pid1);
    expect(inside).to.have.length(1);
    expect(d.zombies()).to.deep.equal([]);
  });
});
