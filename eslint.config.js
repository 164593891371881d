// ESLint for the whole tree (`npm run lint`, run by `npm test`).
// TypeScript (src/, bench/, test/) gets typescript-eslint's type-aware recommended rules,
// typed by tsconfig.test.json, the one project that includes all three folders.
// The few JavaScript files (bin/, scripts/, the mocha reporter, this file) get ESLint's
// recommended rules only: they are in no tsconfig, so there are no types to check them with.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'build/', 'node_modules/']),

  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },

  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A `default:` must not hide a union member added later: each member needs its case
      // (a `default: assertNever(x)` after all of them is still allowed).
      '@typescript-eslint/switch-exhaustiveness-check': ['error', {
        considerDefaultExhaustiveForUnions: false,
        allowDefaultCaseForExhaustiveSwitch: true,
        requireDefaultForNonUnion: false,
      }],
    },
  },
  {
    // The koffi bindings: a function declared from a C prototype string returns `any`, so
    // every call's result is untyped until its wrapper's signature gives it a type. The
    // prototype string is the type declaration here (STYLE.md: only these files import koffi,
    // each function declared with its exact C type in one place); elsewhere `any` stays an error.
    files: ['src/sys/libc.ts', 'src/sys/splice.ts', 'src/sys/rusage.ts', 'src/sys/termios.ts', 'src/sys/netlink.ts', 'src/sys/files.ts', 'src/native/launch.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
