// -p/--publish [IP:]HOSTPORT:CONTAINERPORT[/udp] → Docker's HostConfig.PortBindings. Only the
// shape is checked here; skiffd checks the numbers and names a bad one (HostConfig.PortBindings[80/tcp][0].HostPort).
import { InvalidArgumentError } from 'commander';

export type PortBindings = Record<string, { HostIp: string; HostPort: string }[]>;

const PUBLISH = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+):(\d+)(?:\/(tcp|udp))?$/;

export function publishOption(value: string, previous: PortBindings | undefined): PortBindings {
  const m = PUBLISH.exec(value);
  if (!m) throw new InvalidArgumentError(`Expected [IP:]HOSTPORT:CONTAINERPORT[/udp], got ${JSON.stringify(value)}`);
  const key = `${m[3]}/${m[4] ?? 'tcp'}`;
  const out = { ...(previous ?? {}) };
  out[key] = [...(out[key] ?? []), { HostIp: m[1] ?? '', HostPort: m[2]! }];
  return out;
}
