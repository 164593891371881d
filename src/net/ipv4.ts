// IPv4 addresses and subnets: parsing that names the value, containment, overlap, and the MAC
// address a container's interface derives from its address. Pure.

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

export class Ipv4 {
  private constructor(readonly n: number) {}

  static parse(text: string, what = 'address'): Ipv4 {
    const parts = text.split('.');
    if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) {
      throw new AddressError(`${what} ${JSON.stringify(text)} is not an IPv4 address (four numbers 0 to 255)`);
    }
    return Ipv4.of(parts.reduce((acc, p) => acc * 256 + Number(p), 0));
  }

  static of(n: number): Ipv4 {
    return new Ipv4(n >>> 0);
  }

  plus(k: number): Ipv4 {
    return Ipv4.of(this.n + k);
  }

  bytes(): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.n, 0);
    return b;
  }

  /** Docker's scheme: 02:42 and the four address bytes, so an address always has the same MAC. */
  mac(): string {
    return ['02', '42', ...[...this.bytes()].map((x) => x.toString(16).padStart(2, '0'))].join(':');
  }

  equals(o: Ipv4): boolean {
    return this.n === o.n;
  }

  toString(): string {
    return [24, 16, 8, 0].map((s) => (this.n >>> s) & 255).join('.');
  }
}

export class Subnet {
  private constructor(readonly base: Ipv4, readonly prefix: number) {}

  /** "198.18.0.0/24". The address must be the network's own (no host bits), as Docker requires. */
  static parse(text: string, what = 'subnet'): Subnet {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
    if (!m) throw new AddressError(`${what} ${JSON.stringify(text)} is not ADDRESS/PREFIX (for example 198.18.0.0/24)`);
    const prefix = Number(m[2]);
    if (prefix < 8 || prefix > 30) throw new AddressError(`${what} ${JSON.stringify(text)}: prefix /${prefix} is outside /8 to /30 (a network needs a gateway and at least one container)`);
    const base = Ipv4.parse(m[1]!, `${what} ${JSON.stringify(text)}: address`);
    const s = new Subnet(base, prefix);
    if ((base.n & s.mask) >>> 0 !== base.n) {
      throw new AddressError(`${what} ${JSON.stringify(text)} has host bits set: the network is ${Ipv4.of(base.n & s.mask).toString()}/${prefix}`);
    }
    return s;
  }

  get mask(): number {
    return this.prefix === 0 ? 0 : (0xffffffff << (32 - this.prefix)) >>> 0;
  }

  get size(): number {
    return 2 ** (32 - this.prefix);
  }

  get broadcast(): Ipv4 {
    return this.base.plus(this.size - 1);
  }

  contains(a: Ipv4): boolean {
    return ((a.n & this.mask) >>> 0) === this.base.n;
  }

  /** A host address: in the subnet, neither the network's own address nor its broadcast. */
  isHost(a: Ipv4): boolean {
    return this.contains(a) && a.n !== this.base.n && a.n !== this.broadcast.n;
  }

  overlaps(o: Subnet): boolean {
    return this.contains(o.base) || o.contains(this.base);
  }

  toString(): string {
    return `${this.base.toString()}/${this.prefix}`;
  }
}
