// Where skiffd listens and keeps its state unless told otherwise: the one place both the
// daemon and the CLI read these from (SKIFF_SOCKET and SKIFF_STATE_DIR override them).
export const DEFAULT_SOCKET = '/run/skiff/skiff.sock';
export const DEFAULT_STATE_DIR = '/var/lib/skiff';

export function socketFromEnv(): string {
  return process.env.SKIFF_SOCKET ?? DEFAULT_SOCKET;
}

export function stateDirFromEnv(): string {
  return process.env.SKIFF_STATE_DIR ?? DEFAULT_STATE_DIR;
}
