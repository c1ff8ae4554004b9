import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'coverage/**',
      'apps/dashboard/public/**',
      '**/.wrangler/**',
      '**/*.gs',
      '.tmp/**',
      '.local/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only packages/config reads process.env: pass parsed settings in.' },
      ],
    },
  },
  {
    // Typed rules: in this async-heavy code a floating promise is an unhandled rejection, and in
    // production an unhandled rejection is a crash.
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver': undefined,
      'import-x/resolver-next': [createTypeScriptImportResolver({ alwaysTryTypes: true })],
    },
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['apps/r2-fetch-worker/src/*.test.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // No import cycle, across packages too (workspace packages resolve to their sources): a cycle is how a
      // router ends up importing the composition root back.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'max-len': ['error', { code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
    },
  },
  {
    // The env module, test harness and scripts are where the environment is read.
    files: ['packages/config/src/env.ts', 'test/**', 'scripts/**', '**/*.test.ts', 'jest.config.js', 'apps/*/vite.config.*'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
