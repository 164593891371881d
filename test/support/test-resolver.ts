// A tiny upstream resolver for the DNS forwarding test, run by the test inside its own network
// namespace (never the host's resolver): answers `outside.test` with 198.19.0.99, NXDOMAIN for
// anything else. Usage: test-resolver.ts ADDRESS (port 53).
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';

const sock = createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  const q = packet.decode(msg);
  const question = q.questions?.[0];
  const known = question?.name === 'outside.test' && question.type === 'A';
  const reply = packet.encode({
    id: q.id, type: 'response', flags: packet.RECURSION_AVAILABLE | (known ? 0 : 3 /* NXDOMAIN */), questions: q.questions ?? [],
    answers: known ? [{ type: 'A', name: 'outside.test', ttl: 60, class: 'IN', data: '198.19.0.99' }] : [],
  });
  sock.send(reply, rinfo.port, rinfo.address);
});
sock.bind(53, process.argv[2], () => process.stdout.write('ready\n'));
