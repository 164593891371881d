// The interpreter's mask, readonly and check_char operations on real children, each plan
// failing on purpose (so PID 1 never outlives the test): a mask source that is not the null
// device is refused, a file/directory mismatch is refused, and a missing path is skipped only
// when the plan marks it optional (the next operation then runs: an injected failure shows it).
import { expect } from 'chai';
import { LaunchError, launch } from '../../src/native/launch.js';
import {
  CLONE_NEWNS, CLONE_NEWPID, MASK_DIRECTORY, MASK_OPTIONAL, MS_PRIVATE, MS_REC, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS,
  type Op,
} from '../../src/native/plan-format.js';

const SYSTEM = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const EIO = 5;

function failure(ops: Op[]): string {
  const plan = {
    cloneFlags: CLONE_NEWNS | CLONE_NEWPID, uidMap: null, gidMap: null,
    ops: [
      { what: 'private', op: 'mount', source: null, target: '/', fstype: null, flags: MS_REC | MS_PRIVATE, data: null, resolve: 0 },
      { what: 'root', op: 'open_root', path: '/' },
      ...ops,
    ] satisfies Op[],
    exec: { paths: ['/bin/true'], argv: ['true'], envp: [] },
  };
  try {
    launch(plan);
  } catch (err) {
    expect(err).to.be.instanceOf(LaunchError);
    return (err as LaunchError).message;
  }
  throw new Error('the plan should have failed');
}

const source = (path: string): Op[] => [
  { what: `open \`${path}\``, op: 'open', path, flags: O_PATH | O_NOFOLLOW, register: 2 },
];
const mask = (path: string, flags: number): Op => ({ what: `mask \`${path}\``, op: 'mask', path, resolve: SYSTEM, flags, register: 2, tmpfsFlags: 1, tmpfsData: 'size=0' });
const injected: Op = { what: 'the next operation', op: 'fail', errno: EIO };

describe('native: mask, readonly, check_char', () => {
  it('check_char refuses a source that is not char 1:3 (ENODEV), and accepts /dev/null', () => {
    expect(failure([...source('/dev/zero'), { what: 'check `/dev/zero`', op: 'check_char', register: 2, major: 1, minor: 3 }]))
      .to.equal('check `/dev/zero`: ENODEV (operation 3 check_char)');
    expect(failure([...source('/bin'), { what: 'check `/bin`', op: 'check_char', register: 2, major: 1, minor: 3 }]))
      .to.equal('check `/bin`: ENODEV (operation 3 check_char)');
    expect(failure([...source('/dev/null'), { what: 'check', op: 'check_char', register: 2, major: 1, minor: 3 }, injected]))
      .to.equal('the next operation: EIO (operation 4 fail)');
  });

  it('mask refuses a directory where the plan says file (EISDIR), and a file where it says directory (ENOTDIR)', () => {
    expect(failure([...source('/dev/null'), mask('/etc', MASK_OPTIONAL)])).to.equal('mask `/etc`: EISDIR (operation 3 mask)');
    expect(failure([...source('/dev/null'), mask('/etc/hostname', MASK_OPTIONAL | MASK_DIRECTORY)])).to.equal('mask `/etc/hostname`: ENOTDIR (operation 3 mask)');
  });

  it('a missing path is skipped only when optional', () => {
    expect(failure([...source('/dev/null'), mask('/proc/no-such-knob', 0)])).to.equal('mask `/proc/no-such-knob`: ENOENT (operation 3 mask)');
    expect(failure([...source('/dev/null'), mask('/proc/no-such-knob', MASK_OPTIONAL), injected])).to.equal('the next operation: EIO (operation 4 fail)');
    const ro = (flags: number): Op => ({ what: 'read-only `/proc/no-such-knob`', op: 'readonly', path: '/proc/no-such-knob', resolve: SYSTEM, flags });
    expect(failure([ro(0)])).to.equal('read-only `/proc/no-such-knob`: ENOENT (operation 2 readonly)');
    expect(failure([ro(MASK_OPTIONAL), injected])).to.equal('the next operation: EIO (operation 3 fail)');
  });
});
