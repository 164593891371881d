// Parses a fleet file into a YAML tree that keeps every node's position, and makes the
// tree safe to walk before anyone walks it:
// - aliases are resolved once, in one pass (yaml's Alias.resolve rescans the whole
//   document on every call, which is quadratic in the number of aliases);
// - the nodes that aliases add once expanded are counted and capped, so a "billion
//   laughs" file is refused after one linear pass over what was written, in time and
//   memory bounded by the file's size, before anything expands it;
// - nesting depth is capped, which bounds the recursion of every later walk.
// Nothing here calls yaml's toJS: the walkers read nodes, so positions are never lost.
// (toJS's own guard, maxAliasCount, would cover only toJS, and its error has no position.)
import {
  LineCounter,
  parseDocument,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Alias,
  type Node,
  type Scalar,
  type YAMLError,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { FleetError } from './error.js';

/** A node that holds data, once aliases are resolved. */
export type DataNode = Scalar | YAMLMap | YAMLSeq;

/**
 * How many nodes aliases may add to the document once expanded. Compose files use
 * aliases for shared defaults, tens of nodes reused per service; an alias bomb needs
 * millions. 20 000 leaves room for a 20-node defaults block in 1000 services.
 */
export const MAX_ALIAS_NODES = 20_000;
/** Far deeper than any fleet needs (Compose files nest about 6 levels). */
export const MAX_DEPTH = 64;

export class YamlSource {
  readonly file: string;
  /** the document's top node; null for an empty file */
  readonly root: DataNode | null;
  private readonly lines: LineCounter;
  private readonly aliasTargets: ReadonlyMap<Alias, DataNode>;

  constructor(file: string, root: DataNode | null, lines: LineCounter, aliasTargets: ReadonlyMap<Alias, DataNode>) {
    this.file = file;
    this.root = root;
    this.lines = lines;
    this.aliasTargets = aliasTargets;
  }

  /** The data behind a node: itself, or an alias's target; null for a missing node. */
  resolve(node: unknown): DataNode | null {
    if (isAlias(node)) return this.aliasTargets.get(node) ?? null;
    return isScalar(node) || isMap(node) || isSeq(node) ? node : null;
  }

  /** 1-based line and column of a node's first character (1:1 without one). */
  position(node: Node | null): { line: number; column: number } {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  fail(node: Node | null, field: string, reason: string): never {
    throw new FleetError({ file: this.file, ...this.position(node) }, field, reason);
  }
}

/** Parses `text`; throws FleetError for syntax errors, bad aliases and alias bombs. */
export function parseYaml(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    merge: true, // Compose files share defaults with `<<: *defaults`
    uniqueKeys: true, // a duplicate key is an error, not "the last one wins"
    prettyErrors: false, // we add our own positions; yaml's would repeat them
    strict: true,
    version: '1.2', // `no` and `on` are strings; `restart: no` is caught by name instead
  });
  // Warnings are errors too: the only ones yaml emits here are unresolved tags (!reset),
  // which would otherwise silently read as plain strings.
  const problem: YAMLError | undefined = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const { line, col } = lines.linePos(problem.pos[0]);
    throw new FleetError({ file, line, column: col }, '', describeYamlError(problem, text));
  }
  const located = new YamlSource(file, null, lines, new Map());
  const guard = new TreeGuard((node, reason) => located.fail(node, '', reason));
  guard.walk(doc.contents, 0);
  const root = isAlias(doc.contents) ? null : doc.contents; // a lone alias has no anchor to name
  return new YamlSource(file, root, lines, guard.aliasTargets);
}

function describeYamlError(e: YAMLError, text: string): string {
  switch (e.code) {
    case 'TAB_AS_INDENT':
      return 'a tab is used for indentation; YAML indents with spaces only';
    case 'DUPLICATE_KEY': {
      // yaml points at the repeated key; quote it as written (up to the colon).
      const key = /^[^:\n]*/.exec(text.slice(e.pos[0], e.pos[0] + 200))?.[0]?.trim() ?? '';
      return `duplicate key ${JSON.stringify(key)}: each key may appear once in a map`;
    }
    case 'MULTIPLE_DOCS':
      return 'holds more than one YAML document (---); a fleet file is one document';
    case 'TAG_RESOLVE_FAILED':
      return `${e.message}; skiff reads plain YAML (Compose's !reset and !override are not supported yet)`;
    case 'RESOURCE_EXHAUSTION':
      return `nested too deeply to parse (${e.message})`;
    // yaml's own message says it well enough. Listed, so that a code a newer yaml adds is a
    // lint error here and someone decides whether it needs skiff's words; the default only
    // keeps such a code's message readable at run time until then.
    case 'ALIAS_PROPS': case 'BAD_ALIAS': case 'BAD_COLLECTION_TYPE': case 'BAD_DIRECTIVE':
    case 'BAD_DQ_ESCAPE': case 'BAD_INDENT': case 'BAD_PROP_ORDER': case 'BAD_SCALAR_START':
    case 'BLOCK_AS_IMPLICIT_KEY': case 'BLOCK_IN_FLOW': case 'IMPOSSIBLE': case 'KEY_OVER_1024_CHARS':
    case 'MISSING_CHAR': case 'MULTILINE_IMPLICIT_KEY': case 'MULTIPLE_ANCHORS': case 'MULTIPLE_TAGS':
    case 'NON_STRING_KEY': case 'UNEXPECTED_TOKEN':
    default:
      return e.message;
  }
}

/**
 * One pre-order pass in document order. Anchors are registered as they are entered, so
 * an alias finds the last anchor of its name before it, as YAML specifies. Each node's
 * expanded size is computed once; an alias adds its target's size to a running total.
 */
class TreeGuard {
  readonly aliasTargets = new Map<Alias, DataNode>();
  private readonly anchors = new Map<string, DataNode>();
  private readonly sizes = new Map<Node, number>();
  private readonly open = new Set<Node>();
  private aliasNodes = 0;

  constructor(private readonly fail: (node: Node, reason: string) => never) {}

  /** Returns the number of nodes under `node` once every alias in it is expanded. */
  walk(node: unknown, depth: number): number {
    if (isAlias(node)) return this.alias(node);
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return 0; // an empty key or value
    if (depth > MAX_DEPTH) this.fail(node, `nested more than ${MAX_DEPTH} levels deep`);
    if (node.anchor) this.anchors.set(node.anchor, node);
    let size = 1;
    if (!isScalar(node)) {
      this.open.add(node);
      for (const item of node.items as unknown[]) {
        size += isPair(item) ? this.walk(item.key, depth + 1) + this.walk(item.value, depth + 1) : this.walk(item, depth + 1);
      }
      this.open.delete(node);
    }
    this.sizes.set(node, size);
    return size;
  }

  private alias(a: Alias): number {
    const target = this.anchors.get(a.source);
    if (!target) this.fail(a, `alias *${a.source} has no anchor &${a.source} before it`);
    if (this.open.has(target)) this.fail(a, `alias *${a.source} is inside the node it names (a recursive alias)`);
    this.aliasTargets.set(a, target);
    // The target is finished: it started before this alias and does not contain it.
    const size = this.sizes.get(target) ?? 1;
    this.aliasNodes += size;
    if (this.aliasNodes > MAX_ALIAS_NODES) {
      this.fail(a, `aliases expand to more than ${MAX_ALIAS_NODES} nodes (an alias bomb?); this one adds ${size}`);
    }
    return size;
  }
}
