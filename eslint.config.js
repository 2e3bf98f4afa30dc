// Import boundaries (see DEVELOPERS.md): the folder a file lives in says what it may import.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const electronOnly = {
  paths: [{ name: 'electron', message: 'Only the thin Electron adapters in src-main/electron may import electron.' }],
};

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src-shared/**'],
    ignores: ['src-shared/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...electronOnly,
          patterns: [
            { group: ['node:*'], message: 'src-shared runs anywhere, the browser included: no Node modules.' },
            { group: ['**/src-main/**', '**/src-renderer/**'], message: 'src-shared imports nothing from the other layers.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/**'],
    ignores: ['src-main/electron/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { ...electronOnly, patterns: [{ group: ['**/src-renderer/**'], message: 'main never imports the renderer.' }] },
      ],
    },
  },
  {
    files: ['src-renderer/**'],
    ignores: ['src-renderer/**/*.test.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer reaches main only through the contract (window.cacheAdmin).' }],
          patterns: [
            { group: ['node:*'], message: 'The renderer runs sandboxed: no Node modules.' },
            { group: ['**/src-main/**'], message: 'The renderer reaches main only through the contract.' },
          ],
        },
      ],
    },
  },
);
