// A published UDP port (-p HOSTPORT:PORT/udp) from 127.0.0.1 (skiffd's loopback proxy) and from the
// namespace's "external" address (nftables DNAT), in a network namespace of the test's own: a
// real skiffd, a UDP echo server in a container (node, from the host image), clients in the
// namespace. Two clients each get their own answers; after rm the port is free again and its
// rules gone. No packet leaves the namespace.
import { expect } from 'chai';
import { useDaemonInNetns } from '../support/daemon.js';

const NODE = process.execPath;

const ECHO_SERVER = `const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
s.bind(5353, () => console.log('ready'));`;

/**
 * HOST:PORT and N: one datagram from each of N sockets of their own, 50 at a time (a burst that
 * fits any receive buffer), each group waited for until all are answered or 3 s pass; prints
 * how many were answered.
 */
const MANY = `const dgram = require('dgram');
const [host, port] = process.argv[1].split(':');
const total = Number(process.argv[2]);
const socks = [];
let answered = 0;
(async () => {
  for (let sent = 0; sent < total; sent += 50) {
    await new Promise((resolve) => {
      let left = Math.min(50, total - sent);
      const t = setTimeout(resolve, 3000);
      for (let i = 0; i < Math.min(50, total - sent); i++) {
        const s = dgram.createSocket('udp4');
        socks.push(s);
        s.on('message', () => { answered++; if (--left === 0) { clearTimeout(t); resolve(); } });
        s.send('x', Number(port), host);
      }
    });
  }
  socks.forEach((s) => s.close());
  console.log(answered);
})();`;

/**
 * Each argument is HOST:PORT:TEXT, sent from a socket of its own; prints each socket's answer (or
 * "timeout"). The sockets are bound below the ephemeral port range (32768–60999), so that none of
 * MANY's later sockets can be given the same source port and be answered through this flow.
 */
const CLIENTS = `const dgram = require('dgram');
Promise.all(process.argv.slice(1).map((a, i) => new Promise((resolve) => {
  const [host, port, text] = a.split(':');
  const s = dgram.createSocket('udp4');
  const t = setTimeout(() => { s.close(); resolve(text + '=timeout'); }, 10000);
  s.on('message', (m) => { clearTimeout(t); s.close(); resolve(text + '=' + m); });
  s.bind(20000 + i, () => s.send(text, Number(port), host));
}))).then((r) => console.log(r.join(' ')));`;

describe('published UDP ports', function () {
  this.timeout(120_000);
  const net = useDaemonInNetns();

  const ok = async (args: string[]): Promise<string> => {
    const r = await net.d.cli(args, { timeoutMs: 60_000 });
    expect(r.code, `skiff ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  const clients = async (...targets: string[]): Promise<string> => (await net.ns.runAsync(NODE, ['-e', CLIENTS, ...targets])).stdout.trim();

  it('answers each client from 127.0.0.1 and from the external address; after rm the port and its rules are gone', async () => {
    await ok(['network', 'create', '--subnet', '198.18.30.0/24', 'udpnet']);
    await ok(['run', '-d', '--name', 'echo', '--network', 'udpnet', '-p', '15353:5353/udp', 'host', NODE, '-e', ECHO_SERVER]);
    await net.d.waitForOutput('echo', 'ready');
    expect(net.ns.nftTable()).to.match(/udp dport 15353 dnat ip to 198\.18\.30\.2:5353/);

    // Two loopback clients at once: each answer goes back to the socket that asked.
    expect(await clients('127.0.0.1:15353:one', '127.0.0.1:15353:two')).to.equal('one=echo:one two=echo:two');
    expect(await clients(`${net.ns.external}:15353:three`)).to.equal('three=echo:three');

    // At most 1024 flows at once: the two loopback clients above hold two (for a minute), so of
    // 1100 new sources exactly 1022 are answered, and skiffd holds no socket beyond them.
    const before = (await net.d.settledView()).fds.filter((f) => f.startsWith('socket:')).length;
    expect((await net.ns.runAsync(NODE, ['-e', MANY, '127.0.0.1:15353', '1100'])).stdout.trim()).to.equal('1022');
    expect((await net.d.settledView()).fds.filter((f) => f.startsWith('socket:')).length).to.equal(before + 1022);

    await ok(['rm', '-f', 'echo']);
    expect(net.ns.nftTable()).to.not.include('15353');
    // Nothing answers any more, and the port can be bound by someone else.
    expect(await clients('127.0.0.1:15353:four')).to.equal('four=timeout');
    const bind = net.ns.run(NODE, ['-e', "require('dgram').createSocket('udp4').bind(15353, '0.0.0.0', function () { console.log('bound'); this.close(); })"]);
    expect(bind.stdout.trim(), bind.stderr).to.equal('bound');
    // Every flow's socket went with the port.
    expect((await net.d.settledView()).fds.filter((f) => f.startsWith('socket:')).length).to.equal(before - 3);
    await ok(['network', 'rm', 'udpnet']);
  });
});
