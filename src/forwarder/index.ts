// The console forwarder, as skiffd's main thread uses it. See "The console forwarder"
// in ARCHITECTURE.md; protocol.ts draws the channel to the threads, keeper.ts the keeper process.
export { ConsoleError, ConsoleHub, type ConsoleClient, type HubOptions } from './hub.js';
export type { ConsoleCounters, ConsoleOptions, KeptConsole, LentPipes, PipeEnds } from './protocol.js';
export { decodeRecords, type OutputRecord, type StreamId } from './records.js';
