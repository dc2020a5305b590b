import { defineConfig } from 'vitest/config';

// Unit tests cover the pure modules under src/lib: no DOM needed.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
  },
});
