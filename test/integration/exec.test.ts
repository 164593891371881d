// skiff exec and Docker's exec API against a real skiffd: the exec'd process is really inside
// the container (its pid namespace, mounts, hostname, network, cgroup, capabilities, seccomp),
// dies with it, reports its exit code (0, 3, 126, 127) from `skiff exec` and GET /exec/{id}/json,
// gets its stdin's end, and every bad input is a clear error that leaves nothing behind.
import { chmodSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { until, useDaemon, type Reply } from '../support/daemon.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';
import { TempDirs } from '../support/tmp.js';
import { statusField } from '../../src/sys/proc.js';
import { upgrade } from '../../src/api/http-client.js';

const CLI = join(import.meta.dirname, '../../bin/skiff.js');

interface ExecInspect { ID: string; Running: boolean; ExitCode: number | null; Pid: number; ProcessConfig: { entrypoint: string; arguments: string[]; tty: boolean; user: string } }

/** Docker's 8-byte frames → [stream, text] pairs. */
function unframe(raw: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let at = 0; at + 8 <= raw.length;) {
    const n = raw.readUInt32BE(at + 4);
    out.push([raw[at]!, raw.subarray(at + 8, at + 8 + n).toString('utf8')]);
    at += 8 + n;
  }
  return out;
}

describe('exec: a command run inside a running container', function () {
  this.timeout(60_000);
  const d = useDaemon();
  const tmp = new TempDirs();
  let rootfs = '';
  let shared = '';

  const ok = (r: Reply, what: string): Reply => {
    expect(r.status, `${what}: ${r.text}`).to.be.within(200, 299);
    return r;
  };
  const create = async (name: string, body: object): Promise<string> => ((ok(await d.api('POST', `/containers/${name}/exec`, body), 'exec create')).body as { Id: string }).Id;
  const inspect = async (id: string): Promise<ExecInspect> => ok(await d.api('GET', `/exec/${id}/json`), 'exec inspect').body as ExecInspect;
  /** Create and start (not detached, no upgrade): the whole framed output once it ends. */
  const run = async (name: string, cmd: string[], extra: object = {}): Promise<{ id: string; frames: [number, string][] }> => {
    const id = await create(name, { Cmd: cmd, AttachStdout: true, AttachStderr: true, ...extra });
    const r = await d.api('POST', `/exec/${id}/start`, { Detach: false });
    expect(r.status).to.equal(200);
    return { id, frames: unframe(Buffer.from(r.text, 'latin1')) };
  };
  const pid1 = async (name: string): Promise<number> => (await d.inspect(name)).State.Pid;

  before(async () => {
    rootfs = buildBusyboxRootfs(tmp.make('rootfs'));
    chmodSync(rootfs, 0o755); // a temp dir is 0700: the exec's user 1000 must be able to enter its root
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n');
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
    writeFileSync(join(rootfs, 'etc/hostname'), 'from-the-rootfs\n');
    shared = tmp.make('shared');
    writeFileSync(join(shared, 'note'), 'only in the container\'s mount\n');
    const r = await d.cli(['run', '-d', '--name', 'web', '--rootfs', rootfs, '--hostname', 'webhost', '--mount', `${shared}:/mnt:ro`,
      '--env', 'FROM_CONTAINER=yes', '--env', 'OVERRIDDEN=container', '--', '/bin/sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(() => tmp.removeAll());

  it('is in PID 1\'s namespaces, root, cgroup and hardening: NSpid two levels deep, CapEff and Seccomp as PID 1\'s; ps inside shows it', async () => {
    const id = await create('web', { Cmd: ['/bin/sleep', '1000'] });
    ok(await d.api('POST', `/exec/${id}/start`, { Detach: true }), 'exec start (detached)');
    const info = await inspect(id);
    expect(info.Running).to.equal(true);
    const pid = info.Pid;
    const init = await pid1('web');
    const nspid = statusField(pid, 'NSpid')!.split(/\s+/).map(Number);
    expect(nspid).to.have.length(2);
    expect(nspid[0]).to.equal(pid);
    expect(nspid[1]).to.be.below(100);
    for (const ns of ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup']) {
      expect(readlinkSync(`/proc/${pid}/ns/${ns}`), ns).to.equal(readlinkSync(`/proc/${init}/ns/${ns}`));
    }
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).to.equal(readFileSync(`/proc/${init}/cgroup`, 'utf8'));
    const root = (p: number) => { const s = statSync(`/proc/${p}/root/`); return `${s.dev}:${s.ino}`; };
    expect(root(pid)).to.equal(root(init));
    expect(statusField(pid, 'CapEff')).to.equal(statusField(init, 'CapEff'));
    expect(statusField(pid, 'CapBnd')).to.equal(statusField(init, 'CapBnd'));
    expect(statusField(pid, 'Seccomp')).to.equal('2');
    expect(statusField(pid, 'NoNewPrivs')).to.equal('1');
    // skiffd's child (the subreaper), as PID 1 is; no fd of skiffd's or the launcher's (pidfd, root) kept
    expect(statusField(pid, 'PPid')).to.equal(String(d.pid));
    expect(readdirSync(`/proc/${pid}/fd`).sort()).to.deep.equal(['0', '1', '2']);
    // From inside: its pid is the inner one, and it sees the container's mount, hostname and network.
    const seen = await run('web', ['/bin/sh', '-c', `cat /proc/${nspid[1]}/cmdline | tr '\\0' ' '; echo; hostname; cat /mnt/note; cat /etc/hostname; readlink /proc/self/ns/net`]);
    expect(seen.frames.map(([, t]) => t).join('')).to.equal(`/bin/sleep 1000 \nwebhost\nonly in the container's mount\nfrom-the-rootfs\n${readlinkSync(`/proc/${init}/ns/net`)}\n`);
    const ps = await d.cli(['exec', 'web', 'ps', '-o', 'pid,args']);
    expect(ps.stdout).to.match(new RegExp(`^\\s*${nspid[1]}\\s+/bin/sleep 1000$`, 'm'));
  });

  it('exit codes 0, 3, 126 and 127 come back from skiff exec and from GET /exec/{id}/json', async () => {
    const cases: [string[], number][] = [[['/bin/true'], 0], [['/bin/sh', '-c', 'exit 3'], 3], [['/etc/passwd'], 126], [['nosuch'], 127]];
    for (const [cmd, code] of cases) {
      const cli = await d.cli(['exec', 'web', ...cmd]);
      expect(cli.code, `skiff exec ${cmd.join(' ')}: ${cli.stderr}`).to.equal(code);
      const { id } = await run('web', cmd);
      const info = await inspect(id);
      expect(info.ExitCode, cmd.join(' ')).to.equal(code);
      expect(info.Running).to.equal(false);
    }
    const missing = await d.cli(['exec', 'web', 'nosuch']);
    expect(missing.stderr).to.match(/^exec: command `nosuch` not found: ENOENT \(operation \d+ execve\)\n$/);
    const denied = await d.cli(['exec', 'web', '/etc/passwd']);
    expect(denied.stderr).to.match(/^exec: exec `\/etc\/passwd`: EACCES \(operation \d+ execve\)\n$/);
  });

  it('stdout and stderr apart, the container\'s environment under the exec\'s, -u with its groups, -w inside the root', async () => {
    const { frames } = await run('web', ['/bin/sh', '-c', 'echo out; echo err >&2'], {});
    expect(frames).to.deep.equal([[1, 'out\n'], [2, 'err\n']]);
    const r = await d.cli(['exec', '-u', 'app', '-w', '/tmp', '-e', 'OVERRIDDEN=exec', 'web', '/bin/sh', '-c',
      'id -u; id -G; pwd; echo $FROM_CONTAINER $OVERRIDDEN; grep CapEff /proc/self/status']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('1000\n1000 2000\n/tmp\nyes exec\nCapEff:\t0000000000000000\n');
    const numeric = await d.cli(['exec', '-u', '4242:4343', 'web', '/bin/sh', '-c', 'id -u; id -g']);
    expect(numeric.stdout).to.equal('4242\n4343\n');
  });

  it('-i: the end of skiff\'s input is the command\'s (cat ends at EOF)', async () => {
    const r = await d.cli(['exec', '-i', 'web', 'cat'], { input: 'x\ny\n' });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('x\ny\n');
  });

  it('a client that goes away mid-stream ends the exec\'s input too (cat ends), and the exec is reaped', async () => {
    const id = await create('web', { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const up = await upgrade(d.socket, `/exec/${id}/start`, { body: { Detach: false } });
    if (up.refused) throw new Error(`exec start: ${up.refused.status} ${up.refused.text}`);
    const echoed = new Promise<string>((resolve) => up.socket.once('data', (b: Buffer) => resolve(unframe(b)[0]![1])));
    up.socket.write('ping\n');
    expect(await echoed).to.equal('ping\n');
    expect((await inspect(id)).Running).to.equal(true);
    up.socket.destroy();
    const info = await until(async () => { const i = await inspect(id); return i.Running ? null : i; }, 'cat to end once its client is gone');
    expect(info.ExitCode).to.equal(0);
  });

  it('-it through a real pty (script): a shell with a terminal, the window size, the exit code', async () => {
    const child = spawn('script', ['-qec', `stty rows 31 cols 97; ${process.execPath} ${CLI} exec -it web sh`, '/dev/null'], {
      env: { ...d.env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const code = new Promise<number | null>((resolve) => child.on('close', resolve));
    // The shell's prompt says it reads the terminal; then the commands.
    await until(() => out.includes('# '), 'the exec\'s shell prompt');
    child.stdin.write('stty size; test -t 0 && echo on-a-tty; echo $((6*7)); exit 5\n');
    expect(await code, out).to.equal(5);
    // (script's own terminal adds a \r to each line end)
    expect(out).to.match(/\n31 97\r+\n/);
    expect(out).to.match(/\non-a-tty\r+\n/);
    expect(out).to.match(/\n42\r+\n/);
  });

  it('dies with its container, and an exec into a stopped container is a 409', async () => {
    const r = await d.cli(['run', '-d', '--name', 'brief', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']);
    expect(r.code, r.stderr).to.equal(0);
    const id = await create('brief', { Cmd: ['/bin/sleep', '1000'] });
    ok(await d.api('POST', `/exec/${id}/start`, { Detach: true }), 'exec start');
    const { Pid: pid } = await inspect(id);
    const late = await create('brief', { Cmd: ['/bin/true'] });
    ok(await d.api('POST', '/containers/brief/stop?t=10'), 'stop');
    const info = await until(async () => { const i = await inspect(id); return i.Running ? null : i; }, 'the exec to end with its container');
    expect(info.ExitCode).to.equal(137);
    expect(statusField(pid, 'State')).to.equal(null);
    const created = await d.api('POST', '/containers/brief/exec', { Cmd: ['/bin/true'] });
    expect(created.status).to.equal(409);
    expect(created.body).to.deep.equal({ message: 'Container brief is not running' });
    const started = await d.api('POST', `/exec/${late}/start`, { Detach: false });
    expect(started.status).to.equal(409);
    expect(started.body).to.deep.equal({ message: 'Container brief is not running' });
    const cli = await d.cli(['exec', 'brief', '/bin/true']);
    expect(cli.code).to.equal(125);
    expect(cli.stderr).to.equal('skiff: Container brief is not running\n');
    // Removing the container drops its execs' records.
    ok(await d.api('DELETE', '/containers/brief'), 'rm');
    expect((await d.api('GET', `/exec/${id}/json`)).status).to.equal(404);
  });

  it('docker kill and rm -f end its execs too', async () => {
    for (const [name, end] of [['killed', 'POST /containers/killed/kill'], ['removed', 'DELETE /containers/removed?force=1']] as const) {
      const r = await d.cli(['run', '-d', '--name', name, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']);
      expect(r.code, r.stderr).to.equal(0);
      const id = await create(name, { Cmd: ['/bin/sleep', '1000'] });
      ok(await d.api('POST', `/exec/${id}/start`, { Detach: true }), 'exec start');
      const { Pid: pid } = await inspect(id);
      const [method, path] = end.split(' ') as [string, string];
      ok(await d.api(method, path), end);
      await until(() => statusField(pid, 'State') === null, `the exec to be gone after ${end}`);
    }
    ok(await d.api('DELETE', '/containers/killed'), 'rm');
  });

  it('bad input is refused naming what was wrong, and leaves no process, fd or state behind', async () => {
    await d.cli(['exec', 'web', '/bin/true']); // the launchers and consoles in their steady state
    const before = await d.settledView();
    const refused: [string, object, number, string][] = [
      ['nosuch', { Cmd: ['/bin/true'] }, 404, 'No such container: nosuch'],
      ['web', { Cmd: [] }, 400, 'Cmd is empty: give the command to run (No exec command specified)'],
      ['web', {}, 400, 'Cmd is empty: give the command to run (No exec command specified)'],
      ['web', { Cmd: 'true' }, 400, 'Cmd must be an array of strings, got "true"'],
      ['web', { Cmd: ['/bin/true'], User: 'nosuch' }, 400, 'exec: User: unable to find user nosuch: no matching entries in passwd file'],
      ['web', { Cmd: ['/bin/true'], User: 'app:nogroup' }, 400, 'exec: User: unable to find group nogroup: no matching entries in group file'],
      ['web', { Cmd: ['/bin/true'], WorkingDir: 'tmp' }, 400, 'WorkingDir must be an absolute path, got "tmp"'],
      ['web', { Cmd: ['/bin/true'], Privileged: true }, 400, 'Privileged: skiff runs no privileged execs (an exec has its container\'s capabilities)'],
      ['web', { Cmd: ['/bin/true'], Env: ['NOEQUALS'] }, 400, 'Env[0] must be NAME=VALUE, got "NOEQUALS"'],
    ];
    for (const [name, body, status, message] of refused) {
      const r = await d.api('POST', `/containers/${name}/exec`, body);
      expect(r.status, JSON.stringify(body)).to.equal(status);
      expect((r.body as { message: string }).message).to.equal(message);
    }
    expect((await d.api('POST', '/exec/0123456789abcdef/start', { Detach: false })).status).to.equal(404);
    expect((await d.api('GET', '/exec/0123456789abcdef/json')).body).to.deep.equal({ message: 'No such exec instance: 0123456789abcdef' });
    // A workdir that is not there fails the launch at its chdir, naming it; the exec is over.
    const { id, frames } = await run('web', ['/bin/true'], { WorkingDir: '/nonexistent' });
    expect(frames).to.have.length(1);
    expect(frames[0]![1]).to.match(/^exec: workdir: change to `\/nonexistent`: ENOENT \(operation \d+ chdir\)\n$/);
    expect((await inspect(id)).ExitCode).to.equal(125);
    const again = await d.api('POST', `/exec/${id}/start`, { Detach: false });
    expect(again.status).to.equal(409);
    expect(again.body).to.deep.equal({ message: `exec ${id} has already been started` });
    const cli = await d.cli(['exec', '-u', 'nosuch', 'web', '/bin/true']);
    expect(cli.code).to.equal(125);
    expect(cli.stderr).to.equal('skiff: exec: User: unable to find user nosuch: no matching entries in passwd file\n');
    expect(await d.settledView()).to.deep.equal(before);
  });
});
