// Docker's User field resolved against an image's /etc/passwd and /etc/group.
import { expect } from 'chai';
import { resolveUser } from '../../src/main/images/user.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n';
const group = 'root:x:0:\napp:x:1000:\nwheel:x:10:app,other\nstaff:x:50:\n';

describe('images: User → uid, gid, groups', () => {
  it('names, numbers and defaults as Docker resolves them', () => {
    expect(resolveUser('', passwd, group)).to.equal(null);
    expect(resolveUser('root', passwd, group)).to.equal(null);
    expect(resolveUser('app', passwd, group)).to.deep.equal({ uid: 1000, gid: 1000, groups: [1000, 10] });
    expect(resolveUser('1000', passwd, group)).to.deep.equal({ uid: 1000, gid: 1000, groups: [1000, 10] });
    expect(resolveUser('4321', passwd, group)).to.deep.equal({ uid: 4321, gid: 0, groups: [0] });
    expect(resolveUser('app:staff', passwd, group)).to.deep.equal({ uid: 1000, gid: 50, groups: [50] });
    expect(resolveUser('5:7', null, null)).to.deep.equal({ uid: 5, gid: 7, groups: [7] });
  });
  it('a name the files do not have is an error naming it', () => {
    expect(() => resolveUser('nobody', passwd, group)).to.throw('unable to find user nobody: no matching entries in passwd file');
    expect(() => resolveUser('app:nogroup', passwd, group)).to.throw('unable to find group nogroup: no matching entries in group file');
    expect(() => resolveUser('app', null, null)).to.throw('unable to find user app: no matching entries in passwd file');
  });
});
