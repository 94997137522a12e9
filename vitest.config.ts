import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/leak-check.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // hanging-process prints what keeps a worker alive if one ever fails to exit (seen twice, never reproduced).
    reporters: ['default', 'hanging-process'],
  },
});
