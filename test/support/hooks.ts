// The suite's global set-up and teardown: mocha's root hooks (.mocharc.cjs `require`s this file,
// whether the whole suite runs or one named file).
//   - after every test and at the end: orphans re-parented to this process (the child subreaper
//     of the Harness and OCI tests) are reaped (orphans.ts), never a child Node or a pidfd waits for.
import { reapOrphans, trackSpawnedChildren } from './orphans.js';

// At load, before any test file is: every child Node spawns from here on is known as its own.
trackSpawnedChildren();

export const mochaHooks = {
  afterEach(): void {
    reapOrphans();
  },
  afterAll(): void {
    reapOrphans();
  },
};
