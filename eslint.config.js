import tseslint from 'typescript-eslint';
import vitest from '@vitest/eslint-plugin';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'coverage/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    plugins: { vitest },
    rules: {
      ...vitest.configs.recommended.rules,
      'vitest/no-focused-tests': 'error',
      'vitest/no-disabled-tests': 'error',
      // CDK's Template.has*/resourceCountIs assert and throw like expect().
      'vitest/expect-expect': ['error', { assertFunctionNames: ['expect', 'template.*', 'expectTypeOf'] }],
      // expect(value, message) is vitest's own form.
      'vitest/valid-expect': ['error', { maxArgs: 2 }],
    },
  },
);
