// The console forwarder's core behaviours on the read/write path, the one kernels that
// cannot splice from a tty take (forced here with spliceTty: false).
import { defineConsoleCases } from '../support/console-cases.js';

defineConsoleCases({ label: 'read/write', spliceTty: false });
