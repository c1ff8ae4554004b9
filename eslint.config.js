import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'coverage/**', 'apps/dashboard/public/**', '**/.wrangler/**', '**/*.gs', '.tmp/**', '.local/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only packages/config reads process.env: pass parsed settings in.' },
      ],
    },
  },
  {
    // The env module, test harness and scripts are where the environment is read.
    files: ['packages/config/src/env.ts', 'test/**', 'scripts/**', '**/*.test.ts', 'jest.config.js', 'apps/*/vite.config.*'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
