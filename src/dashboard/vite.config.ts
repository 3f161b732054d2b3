/**
 * Builds the dashboard into `<repo>/dist/dashboard`: `index.html` plus hashed files under
 * `assets/`. Nothing inline (the server's Content-Security-Policy allows only 'self' scripts and
 * styles), no CDN, no public/ folder.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../../dist/dashboard', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  // Preact's automatic JSX runtime through Vite's own transformer (oxc): no extra plugin.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    // Keep every asset a file: data: URLs for scripts or styles would break the CSP.
    assetsInlineLimit: 0,
    // The module preload polyfill is tiny but unnecessary for one entry chunk in current browsers.
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
});
