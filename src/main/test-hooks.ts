// Failure injection for the test suite, wired in only when skiffd runs with test hooks on
// (SKIFF_TEST_HOOKS=1): the label skiff.test.fail-at=K makes the launch plan's operation K
// fail with EIO, so a test can walk every operation and check that each leaves nothing
// behind. The supervisor knows nothing of it: it asks its `startOptions` for extras. An exec
// whose Env holds SKIFF_TEST_FAIL_AT=K gets the same in its exec plan (the exec manager's
// `execOptions`).
import { EIO } from '../sys/errno.js';
import type { StartRequest } from '../workers/start.js';
import type { ExecRequest } from '../workers/exec.js';
import type { ContainerRecord } from './lifecycle/record.js';

export const FAIL_AT_LABEL = 'skiff.test.fail-at';

export function injectedFailure(r: ContainerRecord): Pick<StartRequest, 'failAt'> {
  const at = r.spec.labels[FAIL_AT_LABEL];
  if (at === undefined || !/^\d{1,4}$/.test(at)) return {};
  return { failAt: { index: Number(at), errno: EIO } };
}

export const EXEC_FAIL_AT_ENV = 'SKIFF_TEST_FAIL_AT';

export function injectedExecFailure(_r: ContainerRecord, env: readonly string[]): Pick<ExecRequest, 'failAt'> {
  const at = env.find((e) => e.startsWith(`${EXEC_FAIL_AT_ENV}=`))?.slice(EXEC_FAIL_AT_ENV.length + 1);
  if (at === undefined || !/^\d{1,4}$/.test(at)) return {};
  return { failAt: { index: Number(at), errno: EIO } };
}
