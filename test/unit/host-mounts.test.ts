// Where skiffd's state directory shows on the host (its aliases through the mount table) and
// where each alias shows inside a container: pure logic, no root needed.
import { expect } from 'chai';
import { below, hostAliases, mountOf, parseMountinfo } from '../../src/workers/host-mounts.js';
import { hiddenInContainer } from '../../src/workers/plan.js';
import { validateSpec } from '../../src/spec/container.js';

const MOUNTINFO = [
  '21 26 0:20 / /proc rw,relatime - proc proc rw',
  '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '40 26 0:40 / /run rw,nosuid - tmpfs tmpfs rw',
  '41 26 254:0 /var/lib /srv/lib rw,relatime - ext4 /dev/vda rw', // a bind of /var/lib
  '42 26 254:0 /var/lib/skiff/x /srv/x rw,relatime - ext4 /dev/vda rw', // below the state dir: not an alias of it
  '43 26 254:1 / /mnt/other rw - ext4 /dev/vdb rw', // another disk
  '44 26 254:0 /var/lib\\040old /srv/with\\040space rw - ext4 /dev/vda rw', // octal escapes
  'garbage line',
].join('\n');

describe('host mounts', () => {
  const mounts = parseMountinfo(MOUNTINFO);

  it('parses mountinfo, unescaping octal escapes and skipping what it cannot read', () => {
    expect(mounts).to.have.length(7);
    expect(mounts[0]).to.deep.equal({ id: 21, parent: 26, device: '0:20', root: '/', mountPoint: '/proc', options: 'rw,relatime', fstype: 'proc' });
    expect(mounts[6]).to.include({ root: '/var/lib old', mountPoint: '/srv/with space' });
  });

  it('below() is by path component, not by string prefix', () => {
    expect(below('/var/lib/skiff', '/var/lib')).to.equal('skiff');
    expect(below('/var/lib', '/var/lib')).to.equal('');
    expect(below('/var/library', '/var/lib')).to.equal(null);
    expect(below('/a', '/')).to.equal('a');
  });

  it('mountOf() finds the deepest mount holding a path', () => {
    expect(mountOf('/run/skiff', mounts)?.id).to.equal(40);
    expect(mountOf('/var/lib/skiff', mounts)?.id).to.equal(26);
    expect(mountOf('/srv/lib/skiff', mounts)?.id).to.equal(41);
  });

  it('lists every place a directory shows: itself and each bind of a directory above it, on the same disk only', () => {
    expect(hostAliases('/var/lib/skiff', mounts)).to.deep.equal([
      { path: '/var/lib/skiff', onRootMount: true },
      { path: '/srv/lib/skiff', onRootMount: false },
    ]);
    // seen through a bind: the same two places
    expect(hostAliases('/srv/lib/skiff', mounts).map((a) => a.path)).to.deep.equal(['/var/lib/skiff', '/srv/lib/skiff']);
    expect(hostAliases('/run/skiff', mounts)).to.deep.equal([{ path: '/run/skiff', onRootMount: false }]);
  });

  describe('inside a container', () => {
    const aliases = hostAliases('/var/lib/skiff', mounts);
    const spec = (input: Record<string, unknown>) => validateSpec({ name: 'c', command: ['/bin/true'], ...input });

    it('--rootfs host sees the root filesystem only: the alias on it', () => {
      expect(hiddenInContainer(spec({}), aliases)).to.deep.equal(['/var/lib/skiff']);
      expect(hiddenInContainer(spec({}), hostAliases('/run/skiff', mounts))).to.deep.equal([]);
    });

    it('a directory rootfs above the state dir shows it under its own path', () => {
      expect(hiddenInContainer(spec({ rootfs: '/var' }), aliases)).to.deep.equal(['/lib/skiff']);
      expect(hiddenInContainer(spec({ rootfs: '/srv' }), aliases)).to.deep.equal(['/lib/skiff']);
      expect(hiddenInContainer(spec({ rootfs: '/opt/root' }), aliases)).to.deep.equal([]);
    });

    it('each bind mount above it shows it under the target; a tmpfs does not', () => {
      const s = spec({
        rootfs: '/opt/root',
        mounts: [
          { source: '/var/lib', target: '/data' },
          { source: '/srv', target: '/srv' },
          { source: '/var/lib/other', target: '/other' },
          { type: 'tmpfs', target: '/var/lib' },
        ],
      });
      expect(hiddenInContainer(s, aliases)).to.deep.equal(['/data/skiff', '/srv/lib/skiff']);
    });

    it('an image directory above it', () => {
      expect(hiddenInContainer(spec({ image: '/var/lib' }), aliases)).to.deep.equal(['/skiff']);
    });
  });
});
