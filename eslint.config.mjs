// Lint for every TypeScript and JavaScript file of the repository, run by `npm test` (test-all.mjs).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.tap/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // typed events: `declare interface Session { on(event: 'stream', …) }` merged with the class
      '@typescript-eslint/no-unsafe-declaration-merging': 'off',
      // `let x; const f = () => x; x = …` (a closure that needs the value made after it) stays a let
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // tests reach into internals on purpose
  { files: ['**/test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
