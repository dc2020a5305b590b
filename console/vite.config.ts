import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The console is served by hoistd from memory at "/" under a strict
// Content-Security-Policy (src/server/console/console_files.cpp): one origin,
// no inline scripts, no external URLs. Vite's output is plain hashed files.
export default defineConfig({
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `npm run dev` against a local hoistd: same origin through the proxy.
    proxy: { '/api': { target: 'https://127.0.0.1:8443', secure: false } },
  },
});
