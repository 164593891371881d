// mocha's configuration. Mocha adds a config file's `spec` to the files named on the command
// line instead of replacing it, so `npx mocha test/integration/x.test.ts` would run the whole
// suite as well: the suite's spec is given only when no test file is named.
// No `exit: true`: mocha waits for the event loop to drain, so a handle a test leaves open
// (a server, a daemon, a timer, a socket, a child) keeps it from exiting and shows up.
'use strict';

const SUITE = ['test/unit/**/*.test.ts', 'test/native/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/images/**/*.test.ts', 'test/oci/**/*.test.ts'];
const named = process.argv.slice(2).some((arg) => !arg.startsWith('-') && /\.test\.[cm]?[jt]s$/.test(arg));

module.exports = {
  'node-option': ['import=tsx'],
  ...(named ? {} : { spec: SUITE }),
  // The root hooks (global set-up and teardown), for one named file as for the whole suite.
  require: ['test/support/hooks.ts'],
  reporter: 'test/support/reporter.cjs',
  timeout: 60000,
};
