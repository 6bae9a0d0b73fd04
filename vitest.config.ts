import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Simulations of a thousand nodes and live-socket tests need more than the default 5 s.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Two cores: run files in parallel but not more forks than cores.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
