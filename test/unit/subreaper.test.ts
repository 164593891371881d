// The child-subreaper flag read back as the kernel holds it: what lets a caller that sets it for
// a while (the OCI suites' useSubreaper) put the process back as it was rather than clear it.
import { expect } from 'chai';
import { isChildSubreaper, setChildSubreaper } from '../../src/sys/libc.js';

describe('child subreaper flag', () => {
  it('reads back what was set, either way, and is put back as it was', () => {
    const was = isChildSubreaper();
    try {
      setChildSubreaper(true);
      expect(isChildSubreaper()).to.equal(true);
      setChildSubreaper(false);
      expect(isChildSubreaper()).to.equal(false);
    } finally {
      setChildSubreaper(was);
    }
    expect(isChildSubreaper()).to.equal(was);
  });
});
