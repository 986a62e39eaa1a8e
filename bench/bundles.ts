/**
 * bench/bundles: each function's Lambda bundle, built as serverless-esbuild builds it, against a
 * reference bundle that only loads the DynamoDB client (imports DynamoDBClient and constructs it).
 *
 * For each bundle: its size (raw and gzip, source map aside) and its cold start in fresh Node
 * processes, median of RUNS runs taken round-robin so drift hits every bundle alike:
 *   require   loading the bundle (`require()`), which is all a function does at module load;
 *   init      require, then the first invoke with an event refused before any network call, which
 *             builds what a function builds once per container (config, Powertools logger, the
 *             SDK clients, the handler). The reference constructs its client at require, so its
 *             two figures are the same work.
 * Each is printed next to the reference's, as a ratio (target <= 1.3).
 *
 * Run: npx tsx bench/bundles.ts   (RUNS=n to change the number of runs)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';

import { percentile, report } from './support';

const ROOT = join(__dirname, '..');
const RUNS = Number(process.env['RUNS'] ?? 15);
const TARGET_RATIO = 1.3;

/** serverless-esbuild's own keys, which it strips before handing the rest to esbuild (its bundle.ts). */
const PLUGIN_KEYS = [
  'concurrency', 'zipConcurrency', 'exclude', 'nativeZip', 'packager', 'packagePath', 'watch', 'keepOutputDirectory',
  'packagerOptions', 'installExtraArgs', 'outputFileExtension', 'outputBuildFolder', 'outputWorkFolder', 'nodeExternals',
  'skipBuild', 'skipRebuild', 'skipBuildExcludeFns', 'stripEntryResolveExtensions', 'disposeContext', 'config',
];

/** An event each function refuses before any network call, after building its runtime. */
const REFUSED_EVENTS: Record<string, unknown> = {
  mint: {},
  refresh: {},
  install: { version: '2.0', routeKey: 'GET /bench', rawPath: '/bench', headers: {}, requestContext: { http: { method: 'GET', path: '/bench' } } },
  webhooks: { version: '2.0', routeKey: 'GET /bench', rawPath: '/bench', headers: {}, requestContext: { http: { method: 'GET', path: '/bench' } } },
};

/** The environment the functions read at cold start (lib/config); nothing is called. */
const FUNCTION_ENV = {
  TOKENS_TABLE: 'bench-tokens',
  WIX_APP_IDS: '5e1f0c2a-7d3b-4c9e-9a61-0d2b8f4c3e17',
  APP_SECRET_PREFIX: 'bench/apps/',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

interface ServerlessConfig {
  custom: { esbuild: Record<string, unknown> };
  functions: Record<string, { handler: string }>;
}

interface Bundle {
  name: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  requireMs: number[];
  initMs: number[];
}

/** The esbuild options serverless-esbuild derives from serverless.yml's custom.esbuild. */
function esbuildOptions(config: ServerlessConfig): BuildOptions {
  const custom = { ...config.custom.esbuild };
  const exclude = ((custom['exclude'] as string[] | undefined) ?? ['aws-sdk']).filter((name) => name !== '*');
  const external = [...((custom['external'] as string[] | undefined) ?? []), ...exclude];
  for (const key of PLUGIN_KEYS) delete custom[key];
  return { ...(custom as BuildOptions), external, logLevel: 'error' };
}

async function buildAll(outdir: string): Promise<Bundle[]> {
  const config = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as ServerlessConfig;
  const options = esbuildOptions(config);
  const bundles: Bundle[] = [];
  const add = (name: string, file: string) => {
    const code = readFileSync(file);
    bundles.push({ name, file, bytes: statSync(file).size, gzipBytes: gzipSync(code).length, requireMs: [], initMs: [] });
  };

  // The reference: the DynamoDB client alone, constructed at load.
  const reference = join(outdir, 'reference.js');
  await build({
    ...options,
    stdin: {
      contents: "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nexport const client = new DynamoDBClient({});\n",
      resolveDir: ROOT,
      loader: 'ts',
      sourcefile: 'reference.ts',
    },
    outfile: reference,
  });
  add('reference (DynamoDBClient)', reference);

  for (const [name, fn] of Object.entries(config.functions)) {
    const entry = `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`;
    await build({ ...options, entryPoints: [join(ROOT, entry)], outdir: join(outdir, name) });
    add(name, join(outdir, name, entry.replace(/^.*\//, '').replace(/\.ts$/, '.js')));
  }
  return bundles;
}

/** Milliseconds a fresh Node process spends loading `file` (and, for `init`, on its first, refused invoke). */
function coldStart(bundle: Bundle, mode: 'require' | 'init'): number {
  const event = REFUSED_EVENTS[bundle.name];
  const script = `
    const start = process.hrtime.bigint();
    const mod = require(${JSON.stringify(bundle.file)});
    const done = () => process.stdout.write(String(Number(process.hrtime.bigint() - start) / 1e6));
    const event = ${JSON.stringify(event ?? null)};
    if (${JSON.stringify(mode)} === 'init' && event !== null) {
      const context = { awsRequestId: 'bench', getRemainingTimeInMillis: () => 10000 };
      Promise.resolve().then(() => mod.handler(event, context)).then(done, done);
    } else done();
  `;
  const out = execFileSync(process.execPath, ['-e', script], { env: { ...FUNCTION_ENV, PATH: process.env['PATH'] }, encoding: 'utf8' });
  return Number(out);
}

async function main(): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
  try {
    const bundles = await buildAll(outdir);
    for (const bundle of bundles) coldStart(bundle, 'init'); // warm the file cache, not measured
    for (let run = 0; run < RUNS; run++) {
      for (const bundle of bundles) {
        bundle.requireMs.push(coldStart(bundle, 'require'));
        bundle.initMs.push(coldStart(bundle, 'init'));
      }
    }

    const [reference, ...functions] = bundles as [Bundle, ...Bundle[]];
    const median = (values: number[]) => percentile(values, 0.5);
    const figures: Record<string, unknown> = {
      runs: RUNS,
      target_ratio: TARGET_RATIO,
      esbuild_options: esbuildOptions(parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as ServerlessConfig),
      reference_kb: reference.bytes / 1024,
      reference_gzip_kb: reference.gzipBytes / 1024,
      reference_require_ms_p50: median(reference.requireMs),
      reference_init_ms_p50: median(reference.initMs),
    };
    for (const bundle of functions) {
      figures[`${bundle.name}_kb`] = bundle.bytes / 1024;
      figures[`${bundle.name}_gzip_kb`] = bundle.gzipBytes / 1024;
      figures[`${bundle.name}_size_ratio`] = bundle.bytes / reference.bytes;
      figures[`${bundle.name}_require_ms_p50`] = median(bundle.requireMs);
      figures[`${bundle.name}_require_ratio`] = median(bundle.requireMs) / median(reference.requireMs);
      figures[`${bundle.name}_init_ms_p50`] = median(bundle.initMs);
      figures[`${bundle.name}_init_ratio`] = median(bundle.initMs) / median(reference.initMs);
    }
    report('bundles', figures);

    const over = functions.filter((bundle) => median(bundle.initMs) / median(reference.initMs) > TARGET_RATIO || bundle.bytes / reference.bytes > TARGET_RATIO);
    console.log(over.length === 0 ? `\nevery function within ${TARGET_RATIO}x the reference` : `\nover ${TARGET_RATIO}x the reference: ${over.map((bundle) => bundle.name).join(', ')}`);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

void main();
