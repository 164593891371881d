// The pure parts of bridge networks, without root: addresses and subnets, the rtnetlink bytes,
// a network's launch-plan operations, the nft table's text, the spec's and Docker's network fields.
import { expect } from 'chai';
import { NameTable } from '../../src/main/networks/names.js';
import { Ipv4, Subnet } from '../../src/net/ipv4.js';
import { newAddress, newDefaultRoute, newVethIntoPid, parseReplies, NetlinkValueError } from '../../src/net/rtnetlink.js';
import { networkOps, type NetAttachment } from '../../src/net/container-plan.js';
import { rulesetText } from '../../src/net/nft.js';
import { CLONE_NEWNET, encodePlan } from '../../src/native/plan-format.js';
import { decodeEncodedPlan } from '../../src/native/launch.js';
import { validateSpec } from '../../src/spec/container.js';
import { buildPlan } from '../../src/workers/plan.js';
import { specFromCreateBody } from '../../src/main/docker/create.js';
import { createRequest } from '../../src/main/networks/routes.js';

const attachment: NetAttachment = {
  network: 'front', bridge: 'sk-0123456789ab', bridgeIndex: 7, hostIfname: 'sv0123456789ab', address: '198.18.1.2', prefix: 24,
  gateway: '198.18.1.1', mac: '02:42:c6:12:01:02', hostsFile: '/state/c1/hosts', resolvFile: '/state/c1/resolv.conf',
};

describe('networks (pure)', () => {
  describe('addresses', () => {
    it('parses subnets and names the bad value', () => {
      const s = Subnet.parse('198.18.1.0/24');
      expect([s.toString(), s.broadcast.toString(), s.size]).to.deep.equal(['198.18.1.0/24', '198.18.1.255', 256]);
      expect(() => Subnet.parse('198.18.1.1/24')).to.throw('subnet "198.18.1.1/24" has host bits set: the network is 198.18.1.0/24');
      expect(() => Subnet.parse('198.18.300.0/24')).to.throw('subnet "198.18.300.0/24": address "198.18.300.0" is not an IPv4 address');
      expect(() => Subnet.parse('198.18.0.0/31')).to.throw('prefix /31 is outside /8 to /30');
      expect(() => Subnet.parse('nonsense')).to.throw('subnet "nonsense" is not ADDRESS/PREFIX');
    });

    it('overlap, host addresses and the MAC derived from an address', () => {
      expect(Subnet.parse('198.18.1.128/25').overlaps(Subnet.parse('198.18.1.0/24'))).to.equal(true);
      expect(Subnet.parse('198.18.2.0/24').overlaps(Subnet.parse('198.18.1.0/24'))).to.equal(false);
      const s = Subnet.parse('198.18.1.0/24');
      expect(['198.18.1.0', '198.18.1.1', '198.18.1.255', '198.18.2.1'].map((a) => s.isHost(Ipv4.parse(a)))).to.deep.equal([false, true, false, false]);
      expect(Ipv4.parse('198.18.1.2').mac()).to.equal('02:42:c6:12:01:02');
    });
  });

  describe('rtnetlink requests', () => {
    it('a veth into a pid: the pid placeholder is the last attribute\'s payload, and the header carries the length', () => {
      const { message, pidOffset } = newVethIntoPid(9, 'svhost', 7, 'eth0', '02:42:c6:12:01:02');
      expect(message.readUInt32LE(0)).to.equal(message.length);
      expect(message.readUInt16LE(4)).to.equal(16); // RTM_NEWLINK
      expect(message.readUInt16LE(6)).to.equal(0x1 | 0x4 | 0x400 | 0x200); // REQUEST ACK CREATE EXCL
      expect(message.readUInt32LE(8)).to.equal(9);
      expect(pidOffset).to.equal(message.length - 4);
      // rtattr header just before it: length 8, type IFLA_NET_NS_PID (19)
      expect([message.readUInt16LE(pidOffset - 4), message.readUInt16LE(pidOffset - 2)]).to.deep.equal([8, 19]);
      expect(message.includes(Buffer.from('veth\0'))).to.equal(true);
      expect(message.includes(Buffer.from([0x02, 0x42, 0xc6, 0x12, 0x01, 0x02]))).to.equal(true);
    });

    it('an address and a default route carry their values in network order', () => {
      const a = newAddress(1, 2, Ipv4.parse('198.18.1.2'), 24, Ipv4.parse('198.18.1.255'));
      expect([a[16], a[17], a.readUInt32LE(20)]).to.deep.equal([2, 24, 2]); // AF_INET, prefix, index
      expect(a.includes(Buffer.from([198, 18, 1, 2]))).to.equal(true);
      const r = newDefaultRoute(1, 2, Ipv4.parse('198.18.1.1'));
      expect(r.includes(Buffer.from([198, 18, 1, 1]))).to.equal(true);
    });

    it('refuses names the kernel would', () => {
      expect(() => newVethIntoPid(1, 'a-name-that-is-too-long', 1, 'eth0', '02:42:00:00:00:01')).to.throw(NetlinkValueError, 'interface name "a-name-that-is-too-long" is not 1 to 15');
    });

    it('reads acks and errors from a reply', () => {
      const ack = Buffer.alloc(36);
      ack.writeUInt32LE(36, 0);
      ack.writeUInt16LE(2, 4);
      ack.writeUInt32LE(5, 8);
      ack.writeInt32LE(-17, 16);
      expect(parseReplies(ack)).to.deep.equal([{ kind: 'ack', seq: 5, errno: 17 }]);
    });
  });

  describe('the DNS name table', () => {
    it('answers by name and alias per network, round-robin over holders, and forgets a stopped container everywhere', () => {
      const t = new NameTable();
      t.up('front', 'web1', '198.18.1.2', ['web1', 'Web']);
      t.up('front', 'web2', '198.18.1.3', ['web2', 'web']);
      t.up('back', 'web1', '198.18.2.2', ['web1']);
      expect(t.find(['front'], 'web1')).to.deep.equal(['198.18.1.2']);
      expect(t.find(['back', 'front'], 'web1')).to.deep.equal(['198.18.2.2', '198.18.1.2']);
      const answers = [t.find(['front'], 'web'), t.find(['front'], 'web')];
      expect(answers.map((a) => [...a].sort())).to.deep.equal([['198.18.1.2', '198.18.1.3'], ['198.18.1.2', '198.18.1.3']]);
      expect(answers[0]![0]).to.not.equal(answers[1]![0]);
      expect(t.holder('front', '198.18.1.3')).to.equal('web2');
      t.down('web1');
      expect([t.find(['front'], 'web'), t.find(['back'], 'web1'), t.holder('front', '198.18.1.2')]).to.deep.equal([['198.18.1.3'], [], undefined]);
      t.downOn('front', 'web2');
      expect(t.find(['front'], 'web')).to.deep.equal([]);
    });
  });

  describe('the launch plan of a container on a network', () => {
    it('lo up, the veth, eth0 without IPv6 link-local and up, address and route; all through launch.c\'s decoder', () => {
      const spec = validateSpec({ name: 'c1', command: ['/bin/true'], network: 'front' });
      const plan = buildPlan(spec, {
        rootMount: '/r', layer: null, console: { kind: 'null' }, lastCap: 40, hidden: [], net: attachment,
        fileBinds: [{ source: attachment.hostsFile, target: '/etc/hosts', create: true }],
      });
      expect(plan.cloneFlags & CLONE_NEWNET).to.equal(CLONE_NEWNET);
      const ops = plan.ops.map((o) => o.op);
      const at = ops.indexOf('host_netlink');
      expect(ops.slice(at - 1, at + 5)).to.deep.equal(['netlink', 'host_netlink', 'netlink', 'netlink', 'netlink', 'netlink']);
      expect(plan.ops.slice(at - 1, at + 5).map((o) => o.what)).to.deep.equal([
        'bring up the loopback interface',
        'network front: create the veth `sv0123456789ab` on bridge `sk-0123456789ab`, its peer `eth0` in the container',
        'network front: no IPv6 link-local address on `eth0`', 'network front: bring up `eth0`',
        'network front: add address 198.18.1.2/24 to `eth0`', 'network front: default route via 198.18.1.1',
      ]);
      expect(ops).to.not.include('loopback_up');
      expect(plan.ops.map((o) => o.what)).to.include('bind `/state/c1/hosts` on `/etc/hosts`');
      const decoded = decodeEncodedPlan(encodePlan(plan));
      expect(decoded.ops[at]!.op).to.equal('host_netlink');
    });

    it('a network added by connect: one more interface, eth1 at index 3, no route of its own', () => {
      const more = { network: 'back', bridge: 'sk-back', bridgeIndex: 9, hostIfname: 'svmore', ifname: 'eth1', address: '198.18.2.5', prefix: 24, mac: '02:42:c6:12:02:05' };
      const ops = networkOps({ ...attachment, more: [more] });
      expect(ops.slice(-4).map((o) => o.what)).to.deep.equal([
        'network back: create the veth `svmore` on bridge `sk-back`, its peer `eth1` in the container',
        'network back: no IPv6 link-local address on `eth1`', 'network back: bring up `eth1`', 'network back: add address 198.18.2.5/24 to `eth1`',
      ]);
      // eth1 is addressed by index 3 (after lo and eth0), in the ifinfomsg and the ifaddrmsg
      const [up, address] = [ops.at(-2)!, ops.at(-1)!] as { message: Buffer }[];
      expect([up!.message.readInt32LE(20), address!.message.readUInt32LE(20)]).to.deep.equal([3, 3]);
    });

    it('an internal network has no route op, and a bridged spec without an attachment is a plan error', () => {
      expect(networkOps({ ...attachment, gateway: null }).map((o) => o.what)).to.not.include('network front: default route via 198.18.1.1');
      const spec = validateSpec({ name: 'c1', command: ['/bin/true'], network: 'front' });
      expect(() => buildPlan(spec, { rootMount: '/r', layer: null, console: { kind: 'null' }, lastCap: 40, hidden: [] }))
        .to.throw('plan: network `front` needs an attachment');
    });
  });

  describe('the nft table', () => {
    it('isolates networks, masquerades only non-internal ones, DNATs published ports (loopback left to the proxy)', () => {
      const text = rulesetText(
        [{ bridge: 'b1', subnet: '198.18.1.0/24', internal: false }, { bridge: 'b2', subnet: '198.18.2.0/24', internal: true }],
        [{ hostIp: '0.0.0.0', hostPort: 18080, proto: 'tcp', address: '198.18.1.2', containerPort: 80 }],
      );
      expect(text).to.include('table inet skiff\ndelete table inet skiff\ntable inet skiff {');
      expect(text).to.include('iifname "b1" oifname { "b2" } drop');
      expect(text).to.include('iifname "b2" oifname != "b2" drop');
      expect(text).to.include('ip saddr 198.18.1.0/24 oifname != "b1" masquerade');
      expect(text).to.not.include('198.18.2.0/24 oifname');
      expect(text).to.include('fib daddr type local tcp dport 18080 dnat ip to 198.18.1.2:80');
      expect(text).to.include('fib daddr type local ip daddr != 127.0.0.0/8 tcp dport 18080 dnat ip to 198.18.1.2:80');
    });
  });

  describe('spec and Docker fields', () => {
    it('ports and aliases need a bridge network; values are named', () => {
      expect(() => validateSpec({ name: 'c', command: ['x'], ports: [{ hostPort: 80, containerPort: 80 }] })).to.throw('ports need a bridge network');
      expect(() => validateSpec({ name: 'c', command: ['x'], network: 'n', ports: [{ hostPort: 70000, containerPort: 80 }] })).to.throw('ports[0].hostPort must be a port from 1 to 65535, got 70000');
      expect(() => validateSpec({ name: 'c', command: ['x'], network: 'bad name' })).to.throw('network must be none, host or a network\'s name, got "bad name"');
    });

    it('Docker create: NetworkMode, EndpointsConfig aliases, PortBindings, Dns; the default network is the caller\'s choice', () => {
      const { spec } = specFromCreateBody({
        Image: 'host', Cmd: ['x'], HostConfig: { NetworkMode: 'front', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostPort: '5353' }] }, Dns: ['198.19.0.53'] },
        NetworkingConfig: { EndpointsConfig: { front: { Aliases: ['www'] } } },
      }, 'c');
      expect([spec.network, spec.networkAliases, spec.dns]).to.deep.equal(['front', ['www'], ['198.19.0.53']]);
      expect(spec.ports).to.deep.equal([
        { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }, { hostIp: '0.0.0.0', hostPort: 5353, containerPort: 53, proto: 'udp' },
      ]);
      // Docker's default: a body that names no network joins bridge; skiffd --docker-network none opts out
      expect(specFromCreateBody({ Image: 'host', Cmd: ['x'] }, 'c').spec.network).to.equal('bridge');
      // the docker CLI's body without --network: an endpoint named after the mode, not a network
      expect(specFromCreateBody({ Image: 'host', Cmd: ['x'], HostConfig: { NetworkMode: 'default' }, NetworkingConfig: { EndpointsConfig: { default: {} } } }, 'c').spec.network).to.equal('bridge');
      expect(specFromCreateBody({ Image: 'host', Cmd: ['x'] }, 'c', { defaultNetwork: 'none' }).spec.network).to.equal('none');
      expect(() => specFromCreateBody({ Image: 'host', Cmd: ['x'], HostConfig: { NetworkMode: 'front', PortBindings: { '80/tcp': [{ HostPort: '' }] } } }, 'c'))
        .to.throw('HostConfig.PortBindings[80/tcp][0].HostPort is empty');
    });

    it('a network create body: driver, IPAM, each bad field named', () => {
      expect(createRequest({ Name: 'n', IPAM: { Config: [{ Subnet: '198.18.4.0/24', Gateway: '198.18.4.254' }] }, Internal: true }))
        .to.deep.equal({ name: 'n', internal: true, subnet: '198.18.4.0/24', gateway: '198.18.4.254' });
      expect(() => createRequest({ Name: 'n', Driver: 'overlay' })).to.throw('Driver "overlay" is not supported by skiff (bridge is)');
      expect(() => createRequest({ Name: 'n', IPAM: { Config: [{ Gateway: '198.18.4.1' }] } })).to.throw('IPAM.Config[0].Gateway needs a Subnet');
    });
  });
});
