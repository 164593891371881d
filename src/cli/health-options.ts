// The health check options of `skiff run`, as docker run's: --health-cmd (run by /bin/sh -c),
// --health-interval, --health-timeout, --health-start-period, --health-start-interval (Go
// durations: 10s, 1m30s, 500ms), --health-retries, --no-healthcheck. Checked here so a typo
// is a usage error quoting the value, and sent as Docker's Healthcheck (durations in ns).
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../compose/duration.js';
import { UsageError } from './command.js';

export interface HealthValues {
  healthCmd?: string;
  healthInterval?: number;
  healthTimeout?: number;
  healthStartPeriod?: number;
  healthStartInterval?: number;
  healthRetries?: number;
  /** commander's --no-healthcheck: false when given */
  healthcheck?: boolean;
}

/** Nanoseconds, as the Docker API carries durations; at least 1 ms, as Docker requires (0: the default). */
function duration(value: string): number {
  if (value.startsWith('-')) throw new InvalidArgumentError('Expected a duration that is not negative, such as 10s, 1m30s or 500ms');
  const s = parseDuration(value);
  if (s === null) throw new InvalidArgumentError('Expected a duration such as 10s, 1m30s or 500ms');
  const ns = Math.round(s * 1e9);
  if (ns !== 0 && ns < 1e6) throw new InvalidArgumentError('Expected 0 (the default) or at least 1ms');
  return ns;
}

function retries(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 2 ** 31 - 1) throw new InvalidArgumentError('Expected a whole number of failures, 0 (the default, 3) or more');
  return Number(value);
}

export function addHealthOptions(cmd: Command): Command {
  return cmd
    .option('--health-cmd <COMMAND>', 'a command whose exit code 0 means healthy, run by /bin/sh -c in the container')
    .addOption(new Option('--health-interval <DURATION>', 'time between probes (default 30s)').argParser(duration))
    .addOption(new Option('--health-timeout <DURATION>', 'a probe running longer is killed and fails (default 30s)').argParser(duration))
    .addOption(new Option('--health-start-period <DURATION>', 'failures in this time after the start do not count (default 0s)').argParser(duration))
    .addOption(new Option('--health-start-interval <DURATION>', 'time between probes during the start period (default 5s)').argParser(duration))
    .addOption(new Option('--health-retries <N>', 'failures in a row that make it unhealthy (default 3)').argParser(retries))
    .option('--no-healthcheck', 'no health check, not even the image\'s');
}

/** Docker's Healthcheck for a create body, or undefined when no option was given (the image's check applies). */
export function healthcheckField(v: HealthValues): Record<string, unknown> | undefined {
  const tuning = v.healthInterval !== undefined || v.healthTimeout !== undefined || v.healthStartPeriod !== undefined
    || v.healthStartInterval !== undefined || v.healthRetries !== undefined;
  if (v.healthcheck === false) {
    if (v.healthCmd !== undefined || tuning) throw new UsageError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (v.healthCmd === undefined && !tuning) return undefined;
  return {
    // No --health-cmd: the image's command with these settings (an empty Test takes the image's).
    Test: v.healthCmd === undefined ? [] : ['CMD-SHELL', v.healthCmd],
    Interval: v.healthInterval ?? 0,
    Timeout: v.healthTimeout ?? 0,
    StartPeriod: v.healthStartPeriod ?? 0,
    StartInterval: v.healthStartInterval ?? 0,
    Retries: v.healthRetries ?? 0,
  };
}
