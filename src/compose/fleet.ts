// A fleet file → a Fleet: every service's replicas as validated ContainerSpecs. Pure
// except loadFleetFile, which reads the file with a size bound (and the seccomp profiles its
// services name, through FleetOptions.readFile). Every error is a
// FleetError reading `file:line:column field.path: reason`, thrown before anything is
// returned, so a bad file starts nothing.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { NAME_PATTERN, validateName } from '../spec/container.js';
import { FLEET_X_SKIFF_KEYS, TOP_KEYS } from './keys.js';
import { readFleetResources } from './resources.js';
import { checkDependencies } from './deps.js';
import { FleetError } from './error.js';
import { expandService, replicaName } from './replicas.js';
import { parseService, type ServiceDef } from './service.js';
import { resolveNetworks } from './networks.js';
import type { Fleet } from './types.js';
import { readSeccompProfileFile } from '../spec/seccomp-profile-file.js';
import { parseYaml } from './yaml-source.js';
import { YVal } from './yaml-view.js';

export { FleetError } from './error.js';
export { serviceOrder } from './deps.js';
export type { DependsOnCondition, Fleet, FleetDependency, FleetService } from './types.js';

export interface FleetOptions {
  /** replicas across the whole fleet (default 1000) */
  maxReplicas?: number;
  /** the largest file accepted, checked before parsing (default 1 MiB) */
  maxBytes?: number;
  /** where relative paths (`./data:/data`) start; default: the fleet file's directory */
  baseDir?: string;
  /**
   * Reads a file a service names (a seccomp profile in security_opt), given its absolute path;
   * throws an Error whose message says why it cannot. loadFleetFile reads from disk; without
   * one, parseFleet stays pure and a service naming a profile file is refused.
   */
  readFile?: (file: string) => string;
}

export const DEFAULT_MAX_REPLICAS = 1000;
/** A fleet of a thousand services fits in a few hundred KiB; anything far larger is a mistake. */
export const DEFAULT_MAX_BYTES = 1 << 20;

export function parseFleet(text: string, file: string, opts: FleetOptions = {}): Fleet {
  const maxReplicas = opts.maxReplicas ?? DEFAULT_MAX_REPLICAS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const baseDir = opts.baseDir ?? path.dirname(path.resolve(file));
  // Cheap length test first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes)) {
    throw tooLarge(file, Buffer.byteLength(text), maxBytes);
  }

  const top = YVal.root(parseYaml(text, file));
  if (top.isNull) top.fail('the file is empty: a fleet file needs services');
  const m = top.map().check(TOP_KEYS);
  const name = fleetName(m.get('name'), top, file);
  const services = m.get('services') ?? top.fail('has no services: add services: with at least one service');
  const entries = services.map().entries;
  if (entries.length === 0) services.fail('has no services: add at least one');

  const defs: ServiceDef[] = [];
  let total = 0;
  for (const entry of entries) {
    const def = parseService(entry, baseDir, opts.readFile ?? null);
    const longest = replicaName(name, def.name, def.replicas);
    if (!NAME_PATTERN.test(longest)) {
      def.at.fail(`replica names such as "${longest}" are longer than 63 characters; shorten the fleet or service name`);
    }
    // Checked before any spec is built, so `replicas: 1000000000` costs nothing.
    total += def.replicas;
    if (total > maxReplicas) {
      def.replicasAt.fail(total === def.replicas
        ? `${def.replicas} replicas are more than the maximum of ${maxReplicas} per fleet`
        : `${def.replicas} replicas bring the fleet to ${total}, more than the maximum of ${maxReplicas}`);
    }
    defs.push(def);
  }
  checkDependencies(defs);
  const networks = resolveNetworks(name, m.get('networks'), defs);
  const x = m.get('x-skiff')?.map().check(FLEET_X_SKIFF_KEYS);
  const limits = x?.get('resources');
  const resources = limits && !limits.isNull ? readFleetResources(limits) : null;
  return { name, services: defs.map((def) => expandService(name, def)), networks, resources };
}

/** Top-level `name`, else the file's name without its extension (`demo.yaml` → demo). */
function fleetName(v: YVal | undefined, top: YVal, file: string): string {
  if (v) return v.guard((field) => validateName(v.string('a name'), field));
  const base = path.basename(file).replace(/\.[^.]*$/, '');
  if (!NAME_PATTERN.test(base)) {
    top.fail(`the fleet is named after the file, but "${base}" is not a valid name ([A-Za-z0-9][A-Za-z0-9_.-]{0,62}); set a top-level name`);
  }
  return base;
}

function tooLarge(file: string, bytes: number, max: number): FleetError {
  return new FleetError({ file, line: null, column: null }, '',
    `${bytes} bytes is more than the ${max} bytes a fleet file may have`);
}

/**
 * Reads and parses a fleet file. The size is checked before reading (a 50 MB file is
 * refused without being read), and reading stops at the limit anyway, for pipes and
 * /proc files that report no size and files that grow meanwhile.
 */
export async function loadFleetFile(file: string, opts: FleetOptions = {}): Promise<Fleet> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const at = { file, line: null, column: null };
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new FleetError(at, '', `cannot open: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let bytes: Buffer;
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new FleetError(at, '', 'is a directory, not a fleet file');
    if (st.size > maxBytes) throw tooLarge(file, st.size, maxBytes);
    bytes = await readAtMost(fh, maxBytes + 1);
    if (bytes.length > maxBytes) throw tooLarge(file, bytes.length, maxBytes);
  } finally {
    await fh.close();
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new FleetError(at, '', 'is not UTF-8 text', { cause: err });
  }
  return parseFleet(text, file, {
    ...opts,
    baseDir: opts.baseDir ?? path.dirname(path.resolve(file)),
    readFile: opts.readFile ?? readSeccompProfileFile,
  });
}

async function readAtMost(fh: FileHandle, limit: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.min(limit, 64 << 10));
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < limit) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - total), null);
    if (bytesRead === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
    total += bytesRead;
  }
  return Buffer.concat(chunks, total);
}
