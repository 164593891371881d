// Typed reading of the YAML tree. A YVal is one value together with its path in the
// file (`services.web.volumes[0]`) and the node to point at, so whatever reads it can
// fail with `file:line:column path: reason` in one call. Maps are read with merge keys
// (`<<`) applied; keys are checked against a table that tells a typo ("did you mean")
// from a Compose key that skiff does not support yet.
import { isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap } from 'yaml';
import { SpecError } from '../spec/container.js';
import { closest } from './did-you-mean.js';
import type { DataNode, YamlSource } from './yaml-source.js';

/** The keys a map may hold. `x-` keys are Compose extensions and always allowed (and ignored). */
export interface KeyTable {
  supported: readonly string[];
  /** Compose keys skiff knows but does not support yet, each with a hint ('' for none) */
  unsupported?: Readonly<Record<string, string>>;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** A plain scalar's value as text: a string as it is, a number or boolean as YAML writes it. */
function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : undefined;
}

function childPath(parent: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}

export class YVal {
  readonly src: YamlSource;
  readonly node: DataNode | null;
  readonly path: string;
  /** where errors point: the value, or its key when the value is empty */
  private readonly at: Node | null;

  constructor(src: YamlSource, node: DataNode | null, path: string, at: Node | null) {
    this.src = src;
    this.node = node;
    this.path = path;
    this.at = at;
  }

  static root(src: YamlSource): YVal {
    return new YVal(src, src.root, '', src.root);
  }

  fail(reason: string): never {
    return this.src.fail(this.at, this.path, reason);
  }

  get kind(): 'map' | 'list' | 'scalar' | 'null' {
    if (isMap(this.node)) return 'map';
    if (isSeq(this.node)) return 'list';
    return this.isNull ? 'null' : 'scalar';
  }

  /** The scalar's value as YAML typed it (string, number, boolean, null); undefined for a collection. */
  get scalar(): unknown {
    return isScalar(this.node) ? this.node.value : undefined;
  }

  /** Written without quotes: `no` rather than "no". */
  get plain(): boolean {
    return isScalar(this.node) && (this.node.type === undefined || this.node.type === 'PLAIN');
  }

  /** Absent in effect: `key:` with nothing after it, or `key: null`. */
  get isNull(): boolean {
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  /** How the value reads in a "got …" message. */
  describe(): string {
    const n = this.node;
    if (isMap(n)) return 'a map';
    if (isSeq(n)) return 'a list';
    if (n === null || n.value === null) return 'nothing';
    if (typeof n.value === 'string') return JSON.stringify(n.value.length > 40 ? `${n.value.slice(0, 40)}…` : n.value);
    return n.source ?? scalarText(n.value) ?? typeof n.value;
  }

  /** A string scalar, quoted or not; numbers and booleans are refused. */
  string(expected = 'a string'): string {
    const n = this.node;
    if (isScalar(n) && typeof n.value === 'string') return n.value;
    return this.fail(`expected ${expected}, got ${this.describe()}`);
  }

  /**
   * Any scalar as text, numbers and booleans as written (`1.50` stays "1.50", `0x10` stays
   * "0x10"): for environment values, labels and argv, where YAML's typing is an accident.
   */
  text(expected = 'a string'): string {
    const n = this.node;
    if (isScalar(n) && n.value !== null) {
      if (typeof n.value === 'string') return n.value;
      if (typeof n.value === 'number' || typeof n.value === 'boolean') return n.source ?? String(n.value);
    }
    return this.fail(`expected ${expected}, got ${this.describe()}`);
  }

  integer(expected: string): number {
    const n = this.node;
    if (isScalar(n) && typeof n.value === 'number' && Number.isSafeInteger(n.value)) return n.value;
    return this.fail(`expected ${expected}, got ${this.describe()}`);
  }

  boolean(): boolean {
    const n = this.node;
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    return this.fail(`expected true or false, got ${this.describe()}`);
  }

  list(): YVal[] {
    const n = this.node;
    if (!isSeq(n)) return this.fail(`expected a list, got ${this.describe()}`);
    return n.items.map((item, i) => {
      const data = this.src.resolve(item);
      return new YVal(this.src, data, `${this.path}[${i}]`, (item as Node | null) ?? this.at);
    });
  }

  map(): YMap {
    const n = this.node;
    if (!isMap(n)) return this.fail(`expected a map, got ${this.describe()}`);
    const entries = new Map<string, YEntry>();
    this.collect(n, entries);
    return new YMap(this, [...entries.values()]);
  }

  /**
   * Runs one of container.ts's validators with this value's path as its field name and
   * turns its SpecError into a FleetError here, so a rule is written once, in one place.
   */
  guard<T>(validate: (field: string) => T): T {
    try {
      return validate(this.path);
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      const prefix = `${this.path} `;
      return this.fail(err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message);
    }
  }

  /**
   * Own keys first, then each merged map in order, never replacing a key already set: an
   * explicit key beats `<<`, and an earlier merge source beats a later one (YAML's merge spec).
   */
  private collect(map: YAMLMap, out: Map<string, YEntry>): void {
    const merges: { key: Node | null; value: unknown }[] = [];
    for (const pair of map.items) {
      const keyNode = pair.key as Node | null;
      if (isMergeKey(keyNode)) {
        merges.push({ key: keyNode, value: pair.value });
        continue;
      }
      const keyData = this.src.resolve(keyNode);
      const key = isScalar(keyData) ? scalarText(keyData.value) : undefined;
      if (key === undefined) this.src.fail(keyNode ?? this.at, this.path, 'keys must be plain strings');
      if (out.has(key)) continue;
      const valueNode = pair.value as Node | null;
      const path = childPath(this.path, key);
      // An empty value (`key:`) has a zero-width range just past the colon; point at the key.
      const empty = !valueNode || (valueNode.range !== undefined && valueNode.range !== null && valueNode.range[0] === valueNode.range[1]);
      out.set(key, {
        key,
        keyVal: new YVal(this.src, keyData, path, keyNode),
        value: new YVal(this.src, this.src.resolve(valueNode), path, empty ? keyNode : valueNode),
      });
    }
    for (const m of merges) {
      const source = this.src.resolve(m.value);
      const sources = isSeq(source) ? source.items.map((i) => this.src.resolve(i)) : [source];
      for (const s of sources) {
        if (!isMap(s)) this.src.fail(m.key, this.path, '<< must be followed by a map, an alias of one, or a list of them');
        this.collect(s, out);
      }
    }
  }
}

function isMergeKey(key: Node | null): key is Scalar {
  // With `merge: true` yaml reads a plain `<<` as a symbol; a quoted '<<' is an ordinary key.
  if (!isScalar(key) || (key.type !== undefined && key.type !== 'PLAIN')) return false;
  return key.value === '<<' || (typeof key.value === 'symbol' && key.value.description === '<<');
}

export interface YEntry {
  key: string;
  /** the key itself, for errors about the key ("unknown key") */
  keyVal: YVal;
  value: YVal;
}

export class YMap {
  readonly self: YVal;
  readonly entries: readonly YEntry[];

  constructor(self: YVal, entries: readonly YEntry[]) {
    this.self = self;
    this.entries = entries;
  }

  /** The value at `key`; undefined when the key is absent or its value is null. */
  get(key: string): YVal | undefined {
    const e = this.entries.find((x) => x.key === key);
    return e && !e.value.isNull ? e.value : undefined;
  }

  /** Fails at the first key the table does not allow, saying why. */
  check(table: KeyTable): this {
    for (const { key, keyVal } of this.entries) {
      if (table.supported.includes(key)) continue;
      if (key.startsWith('x-')) continue;
      const hint = table.unsupported?.[key];
      if (hint !== undefined) keyVal.fail(`not supported by skiff yet${hint ? ` (${hint})` : ''}`);
      const guess = closest(key, table.supported);
      keyVal.fail(guess ? `unknown key, did you mean "${guess}"?` : `unknown key (known here: ${table.supported.join(', ')})`);
    }
    return this;
  }
}
