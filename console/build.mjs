// Builds the console into crates/server/assets/console/, which the Rust build embeds.
// Run: npm --prefix console ci && npm --prefix console run build
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

const out = new URL('../crates/server/assets/console/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['src/app.js'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'eof',
  outfile: `${out}app.js`,
});
await build({
  entryPoints: ['src/app.css'],
  bundle: true,
  minify: true,
  legalComments: 'eof',
  outfile: `${out}app.css`,
});
copyFileSync('src/index.html', `${out}index.html`);

// What the build was made from, so a test can tell when the committed build is stale
// (crates/server/src/console/assets.rs computes the same digest).
const sources = ['build.mjs', 'package.json', 'package-lock.json',
  ...readdirSync('src').map((f) => `src/${f}`)].sort();
const digest = createHash('sha256');
for (const f of sources) {
  const bytes = readFileSync(f);
  digest.update(`${f}\n${bytes.length}\n`);
  digest.update(bytes);
}
writeFileSync(`${out}source.sha256`, `${digest.digest('hex')}\n`);
