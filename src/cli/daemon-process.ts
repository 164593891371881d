// skiffd as a program: the CLI starts it (in the background when nothing answers, or in the
// foreground for `skiff daemon`) by running its entry point, never by importing it, so the
// CLI loads none of skiffd's modules.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/main/skiffd-main.js, next to this module's own compiled folder. */
export const SKIFFD_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '../main/skiffd-main.js');
