import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

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
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['apps/r2-fetch-worker/src/*.test.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      'max-len': ['error', { code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
    },
  },
  {
    // The env module, test harness and scripts are where the environment is read.
    files: ['packages/config/src/env.ts', 'test/**', 'scripts/**', '**/*.test.ts', 'jest.config.js', 'apps/*/vite.config.*'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
