// Builds dist/index.mjs and dist/index.cjs with esbuild; the build script then runs tsc for dist/*.d.ts.
const { rmSync } = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

rmSync(path.join(__dirname, 'dist'), { recursive: true, force: true });
const common = { entryPoints: [path.join(__dirname, 'src/index.ts')], bundle: true, platform: 'node', target: 'node20', external: ['@aws-sdk/client-lambda'], logLevel: 'warning' };
esbuild.buildSync({ ...common, format: 'esm', outfile: path.join(__dirname, 'dist/index.mjs') });
esbuild.buildSync({ ...common, format: 'cjs', outfile: path.join(__dirname, 'dist/index.cjs') });
