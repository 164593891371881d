// skiff network create|ls|inspect|rm|connect|disconnect: bridge networks, through Docker's /networks API.
import { Command } from 'commander';
import { call } from './client.js';
import { act, collect, type Declared, type Outcome } from './command.js';
import { formatTable } from './table.js';

const enc = encodeURIComponent;

interface NetworkView { Name: string; Id: string; Internal: boolean; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Containers: Record<string, { Name: string; IPv4Address: string }>; Options: Record<string, string> }

async function create(name: string, values: { subnet?: string; gateway?: string; internal?: boolean; label?: string[] }): Promise<number> {
  const labels = Object.fromEntries((values.label ?? []).map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
  const config = values.subnet === undefined && values.gateway === undefined ? [] : [{ Subnet: values.subnet, Gateway: values.gateway }];
  const r = (await call('POST', '/networks/create', { Name: name, Driver: 'bridge', Internal: values.internal ?? false, IPAM: { Config: config }, Labels: labels })).body as { Id: string };
  process.stdout.write(`${r.Id}\n`);
  return 0;
}

async function ls(values: { json?: boolean }): Promise<number> {
  const list = (await call('GET', '/networks')).body as NetworkView[];
  if (values.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  const rows = list.map((n) => [n.Name, n.Id.slice(0, 12), n.IPAM.Config[0]?.Subnet ?? '', n.IPAM.Config[0]?.Gateway ?? '', n.Internal ? 'yes' : 'no', n.Options['com.skiff.bridge'] ?? '']);
  process.stdout.write(formatTable(['NAME', 'ID', 'SUBNET', 'GATEWAY', 'INTERNAL', 'BRIDGE'], rows));
  return 0;
}

async function inspect(names: string[]): Promise<number> {
  const out = [];
  for (const name of names) out.push((await call('GET', `/networks/${enc(name)}`)).body);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

async function rm(names: string[]): Promise<number> {
  for (const name of names) {
    await call('DELETE', `/networks/${enc(name)}`);
    process.stdout.write(`${name}\n`);
  }
  return 0;
}

async function connect(network: string, container: string, values: { alias?: string[] }): Promise<number> {
  await call('POST', `/networks/${enc(network)}/connect`, { Container: container, EndpointConfig: { Aliases: values.alias ?? [] } });
  return 0;
}

async function disconnect(network: string, container: string): Promise<number> {
  await call('POST', `/networks/${enc(network)}/disconnect`, { Container: container });
  return 0;
}

export function networkCommand(o: Outcome): { network: Declared; subcommands: Declared[] } {
  const createCmd = new Command('create')
    .argument('<NAME>', 'the network\'s name')
    .option('--subnet <CIDR>', 'its subnet, e.g. 198.18.3.0/24 (default: a free /24 of 10.89.0.0/16)')
    .option('--gateway <IP>', 'the bridge\'s address in the subnet (default: the first one)')
    .option('--internal', 'no route out: containers reach only each other')
    .option('--label <K=V>', 'a label (repeatable)', collect);
  act(createCmd, o, create);
  const lsCmd = new Command('ls').option('--json', 'print JSON instead of a table');
  act(lsCmd, o, ls);
  const inspectCmd = new Command('inspect').argument('<NAME...>', 'networks, by name or id');
  act(inspectCmd, o, inspect);
  const rmCmd = new Command('rm').argument('<NAME...>', 'networks, by name or id (none may have containers)');
  act(rmCmd, o, rm);
  const connectCmd = new Command('connect').argument('<NETWORK>', 'the network to add').argument('<CONTAINER>', 'a container created on a bridge network')
    .option('--alias <NAME>', 'another name for it in that network\'s DNS (repeatable)', collect);
  act(connectCmd, o, connect);
  const disconnectCmd = new Command('disconnect').argument('<NETWORK>', 'a network added by connect').argument('<CONTAINER>', 'the container');
  act(disconnectCmd, o, disconnect);
  return {
    network: {
      cmd: new Command('network'),
      summary: 'bridge networks: containers on one reach each other by name',
      examples: ['skiff network create --subnet 198.18.3.0/24 backend', 'skiff run -d --name web --network backend -p 8080:80 /srv/images/web httpd -f'],
    },
    subcommands: [
      { cmd: createCmd, summary: 'create a bridge network', examples: ['skiff network create --subnet 198.18.3.0/24 --internal backend'] },
      { cmd: lsCmd, summary: 'list networks (NAME ID SUBNET GATEWAY INTERNAL BRIDGE)', examples: ['skiff network ls'] },
      { cmd: inspectCmd, summary: 'print a network with its containers\' addresses, as JSON', examples: ['skiff network inspect backend'] },
      { cmd: rmCmd, summary: 'remove networks that no container uses', examples: ['skiff network rm backend'] },
      { cmd: connectCmd, summary: 'add a network to a container (a running one gets eth1, … at once)', examples: ['skiff network connect --alias api backend web'] },
      { cmd: disconnectCmd, summary: 'take a network added by connect away from a container', examples: ['skiff network disconnect backend web'] },
    ],
  };
}
