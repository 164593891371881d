// The suite's global set-up and teardown: mocha's root hooks (.mocharc.cjs `require`s this file,
// whether the whole suite runs or one named file).
//   - before anything: what a killed earlier run left in the cgroup hierarchies is swept
//     (cgroup-sweep.ts; only a dead run's `skiff-test-*` parents, only empty cgroups);
//   - after every test and at the end: orphans re-parented to this process (the child subreaper
//     of the Harness and OCI tests) are reaped (orphans.ts), never a child Node or a pidfd waits for;
//   - at the end: a host path the run did not find must not be there (a runtime's default state
//     root, made by a call without --root: the tests use roots of their own, and the podman test
//     removes the one podman's calls need).
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { sweepStaleTestCgroups } from './cgroup-sweep.js';
import { reapOrphans, trackSpawnedChildren } from './orphans.js';

// At load, before any test file is: every child Node spawns from here on is known as its own.
trackSpawnedChildren();

/** Host paths no test may leave behind (each checked only if the run did not find it there). */
const HOST_PATHS = ['/run/skiff-oci'];
let absentAtStart: string[] = [];

export const mochaHooks = {
  beforeAll(): void {
    absentAtStart = HOST_PATHS.filter((p) => !existsSync(p));
    const removed = sweepStaleTestCgroups();
    if (removed.length > 0) process.stdout.write(`  (removed ${removed.length} empty cgroup(s) a killed test run left, e.g. ${removed.at(-1)})\n`);
  },
  afterEach(): void {
    reapOrphans();
  },
  afterAll(): void {
    reapOrphans();
    expect(absentAtStart.filter((p) => existsSync(p)), 'host paths this run made and left').to.deep.equal([]);
  },
};
