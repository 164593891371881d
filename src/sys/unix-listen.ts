// A unix socket only its owner may connect to, from its first instant: the umask is narrowed
// while bind(2) makes the socket file, rather than a chmod after it (between the two, anyone
// could connect). Shared by skiffd's API socket and the console keeper's socket.
import type { Server } from 'node:net';

/** `server` listening on `path`, the socket file created 0600. */
export async function listenOwnerOnly(server: Server, path: string): Promise<void> {
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
}
