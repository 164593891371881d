// buildExecPlan: an exec's launch plan, without root. The order is the contract (see
// buildExecPlan): cgroup and stdio by host paths before any namespace is entered, the pid
// namespace by child1, then the rest in one setns, the container's root, and the container's
// own privileges last. And it survives launch.c's decoder word for word.
import { expect } from 'chai';
import { decodeEncodedPlan } from '../../src/native/launch.js';
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, encodePlan, type Plan } from '../../src/native/plan-format.js';
import { validateSpec } from '../../src/spec/container.js';
import { buildExecPlan, mergeEnv, type ExecPlanContext } from '../../src/workers/exec-plan.js';

const NS = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
const container = validateSpec({ name: 'web', command: ['/bin/sleep', '1000'], env: ['PATH=/usr/bin:/bin', 'A=1'], workdir: '/srv' });

function plan(ctx: Partial<ExecPlanContext> = {}, user: { uid: number; gid: number; groups: number[] } | null = null): Plan {
  return buildExecPlan(container, { command: ['ls', '-l'], env: ['PATH=/usr/bin:/bin'], workdir: '/tmp', user }, {
    pidfd: 7, rootFd: 8, namespaces: NS, pidNamespace: true, lastCap: 40,
    console: { kind: 'pipes', stdin: null, stdout: '/proc/1/fd/10', stderr: '/proc/1/fd/11' },
    cgroupProcs: ['/sys/fs/cgroup/pids/skiff/web/cgroup.procs'], ...ctx,
  });
}

describe('exec plan', () => {
  it('joins the cgroup, opens its stdio by host paths, then enters the namespaces and the root, then drops privileges', () => {
    const p = plan();
    const ops = p.ops.map((o) => o.op);
    expect(ops.slice(0, 7)).to.deep.equal(['join_cgroup', 'set_dumpable', 'open', 'open', 'setns_pid', 'setns', 'chroot']);
    expect(p.ops[4]).to.deep.include({ op: 'setns_pid', fd: 7 });
    expect(p.ops[5]).to.deep.include({ op: 'setns', fd: 7, nstype: NS });
    expect(p.ops[6]).to.deep.include({ op: 'chroot', fd: 8 });
    // stdio, then every other fd (the pidfd and root fd with them) closed, then privileges
    expect(ops.slice(7)).to.deep.equal(['setsid', 'open', 'dup2', 'dup2', 'dup2', 'close_from',
      'drop_bounding', 'set_caps', 'set_no_new_privs', 'chdir', 'seccomp']);
    expect(p.ops.find((o) => o.op === 'chdir')).to.deep.include({ path: '/tmp' });
    expect(p.cloneFlags).to.equal(0);
    // PATH is searched inside the root (after the chroot), as execvp would
    expect(p.exec).to.deep.equal({ paths: ['/usr/bin/ls', '/bin/ls'], argv: ['ls', '-l'], envp: ['PATH=/usr/bin:/bin'] });
  });

  it('enters only the namespaces that differ (none: no setns) and takes the exec\'s user', () => {
    const p = plan({ namespaces: 0, pidNamespace: false, cgroupProcs: [] }, { uid: 1000, gid: 1000, groups: [1000, 2000] });
    const ops = p.ops.map((o) => o.op);
    expect(ops).to.not.include('setns');
    expect(ops).to.not.include('setns_pid');
    expect(ops).to.not.include('join_cgroup');
    expect(p.ops.filter((o) => o.op === 'setresuid')).to.deep.equal([{ what: 'user: set the uid 1000', op: 'setresuid', uid: 1000 }]);
    expect(p.ops.find((o) => o.op === 'set_caps')).to.deep.include({ effective: 0n, permitted: 0n });
  });

  it('a pty console becomes the controlling terminal of a session of its own', () => {
    const ops = plan({ console: { kind: 'pty', slavePath: '/dev/pts/9' } }).ops;
    expect(ops.filter((o) => o.op === 'open')).to.have.length(1);
    const kinds = ops.map((o) => o.op);
    expect(kinds.indexOf('setsid')).to.be.above(kinds.indexOf('chroot'));
    expect(kinds.indexOf('set_ctty')).to.equal(kinds.indexOf('setsid') + 1);
  });

  it('a container-pty console: no host path opened; the pty made after the chroot, given to the user, its master sent out, before close_from', () => {
    const p = plan({ console: { kind: 'container-pty', socket: 12 } }, { uid: 1000, gid: 1001, groups: [] });
    const kinds = p.ops.map((o) => o.op);
    expect(kinds).to.not.include('open');
    const at = kinds.indexOf('open_pty');
    expect(at).to.be.above(kinds.indexOf('chroot'));
    expect(kinds.slice(at, at + 9)).to.deep.equal(['open_pty', 'fchown', 'send_fd', 'setsid', 'set_ctty', 'dup2', 'dup2', 'dup2', 'close_from']);
    expect(p.ops[at + 1]).to.deep.include({ op: 'fchown', uid: 1000, gid: 1001 });
    expect(p.ops[at + 2]).to.deep.include({ op: 'send_fd', socket: 12 });
    // root's exec keeps the pty as devpts made it
    expect(plan({ console: { kind: 'container-pty', socket: 12 } }).ops.map((o) => o.op)).to.not.include('fchown');
  });

  it('round-trips through launch.c\'s decoder, with CLONE_NEWCGROUP among the flags', () => {
    const p = plan({ namespaces: NS | CLONE_NEWCGROUP });
    const decoded = decodeEncodedPlan(encodePlan(p));
    expect(decoded.ops.slice(4, 7)).to.deep.equal([
      { op: 'setns_pid', args: [7, 0, 0, 0, 0, 0, 0] },
      { op: 'setns', args: [7, NS | CLONE_NEWCGROUP, 0, 0, 0, 0, 0] },
      { op: 'chroot', args: [8, 0, 0, 0, 0, 0, 0] },
    ]);
  });

  it('mergeEnv: the container\'s environment with the exec\'s on top, a name the exec sets replacing the container\'s', () => {
    expect(mergeEnv(['PATH=/bin', 'A=1', 'B=2'], ['A=exec', 'C=3'])).to.deep.equal(['PATH=/bin', 'B=2', 'A=exec', 'C=3']);
    expect(mergeEnv(['A=1'], [])).to.deep.equal(['A=1']);
  });
});
