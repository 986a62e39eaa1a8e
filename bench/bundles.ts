/**
 * bench/bundles: the cold start of what production runs, against a bare DynamoDB client.
 *
 * It runs `serverless package` itself first (the machine's Node, as `npm run package` does, into
 * .serverless/), so the figures are always those of the current sources. Then, for each function:
 *   - its artifact, `.serverless/<function>.zip`, unzipped to a temporary directory;
 *   - the environment the packaged CloudFormation template gives it (Environment.Variables,
 *     NODE_OPTIONS and all, Refs and Fn::Join replaced by plausible literals), plus what the Lambda
 *     runtime itself sets (region, credentials, AWS_EXECUTION_ENV, ...);
 * against a reference built the best known way: an esbuild bundle of @aws-sdk/client-dynamodb alone
 * that imports DynamoDBClient and constructs it at load (minified, mainFields module-first,
 * platform node, target node22, format cjs).
 *
 * Each bundle is loaded in fresh Node processes, RUNS of them taken round-robin over the bundles and
 * the two Node binaries so drift hits every figure alike; each process measures
 *   require   loading the bundle (`require()` of the handler file), all a function does at load;
 *   init      require, then the first invoke with an event refused before any network call (the
 *             wiring a function does once per container: config, logger, SDK clients, handler).
 *             The reference constructs its client at require, so its init is its require.
 * on the machine's Node (the one running npm) and on the real Node 22 binary of the `node`
 * devDependency (Lambda's nodejs22.x). Ratios are to the reference on the same Node in this run;
 * the target is <= 1.1 for every function, both figures, both Nodes.
 *
 * Run: npm run bench:bundles   (RUNS=n to change the number of runs, default 21)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { build } from 'esbuild';

import { lambdaNodeBinary } from '../infra/local/lambda-node';
import { unzip } from '../infra/package/unzip';
import { percentile, report } from './support';

const ROOT = join(__dirname, '..');
const RUNS = Number(process.env['RUNS'] ?? 21);
const TARGET_RATIO = 1.1;
const STAGE = 'bench';

/** The machine's Node: the one npm runs on (npm_node_execpath), else the one running this. */
const MACHINE_NODE = process.env['npm_node_execpath'] ?? process.execPath;
/** The real Node 22 binary the `node@22` devDependency installs (Lambda's nodejs22.x). */
const NODE_22 = lambdaNodeBinary();

/** An event each function refuses before any network call, after building its runtime. */
const REFUSED_EVENTS: Record<string, unknown> = {
  mint: {},
  refresh: {},
  install: { version: '2.0', routeKey: 'GET /bench', rawPath: '/bench', headers: {}, requestContext: { http: { method: 'GET', path: '/bench' } } },
  webhooks: { version: '2.0', routeKey: 'GET /bench', rawPath: '/bench', headers: {}, requestContext: { http: { method: 'GET', path: '/bench' } } },
};

/** Plausible literals for the pseudo parameters and resources a template's values refer to. */
const LITERALS: Record<string, string> = {
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
  'AWS::StackName': `wix-token-service-${STAGE}`,
  'AWS::URLSuffix': 'amazonaws.com',
};

interface Bundle {
  name: string;
  /** The handler file, unzipped. */
  file: string;
  /** The process environment the function runs with. */
  env: Record<string, string>;
  event: unknown;
  jsBytes: number;
  zipBytes: number;
  /** Per Node binary, one entry per run. */
  requireMs: Record<string, number[]>;
  initMs: Record<string, number[]>;
}

interface TemplateFunction {
  Type: string;
  Properties: {
    FunctionName?: unknown;
    Handler: string;
    Runtime: string;
    MemorySize?: number;
    Code: { S3Key: unknown };
    Environment?: { Variables?: Record<string, unknown> };
  };
}

/** A CloudFormation value as a literal: Refs, Fn::Join, Fn::Sub and Fn::GetAtt get plausible stand-ins. */
function literal(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return LITERALS[object['Ref'] as string] ?? `bench-${String(object['Ref']).toLowerCase()}`;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(literal).join(separator);
  }
  if ('Fn::Sub' in object) {
    const sub = object['Fn::Sub'];
    const [text, vars] = (Array.isArray(sub) ? sub : [sub, {}]) as [string, Record<string, unknown>];
    return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => (name in vars ? literal(vars[name]) : (LITERALS[name] ?? `bench-${name.toLowerCase()}`)));
  }
  if ('Fn::GetAtt' in object) {
    const [resource, attribute] = object['Fn::GetAtt'] as [string, string];
    return `arn:aws:bench:us-east-1:123456789012:${resource}/${attribute}`;
  }
  throw new Error(`no literal for ${JSON.stringify(value)}`);
}

/** What the Lambda runtime sets in every function's environment besides the function's own variables. */
function lambdaRuntimeEnv(functionName: string, memorySize: number, taskRoot: string): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memorySize),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    AWS_ACCESS_KEY_ID: 'ASIABENCHBENCHBENCH0',
    AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key',
    AWS_SESSION_TOKEN: 'bench-session-token',
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    // Lambda's Node 22 has no such warning to give; on the machine's Node 20 the SDK would print one per client.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** `serverless package`, as `npm run package` runs it, into .serverless/. */
function packageService(): string {
  execFileSync(MACHINE_NODE, [join(ROOT, 'node_modules/serverless/bin/serverless.js'), 'package', '--stage', STAGE], {
    cwd: ROOT,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return join(ROOT, '.serverless');
}

/** Every function of the packaged template, unzipped under `dir`, with its deployed environment. */
function packagedFunctions(output: string, dir: string): Bundle[] {
  const template = JSON.parse(readFileSync(join(output, 'cloudformation-template-update-stack.json'), 'utf8')) as {
    Resources: Record<string, TemplateFunction>;
  };
  const bundles: Bundle[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const { Properties: properties } = resource;
    const zipName = literal(properties.Code.S3Key).replace(/^.*\//, '');
    const name = zipName.replace(/\.zip$/, '');
    const taskRoot = join(dir, name);
    unzip(join(output, zipName), taskRoot);
    const handler = properties.Handler;
    const file = join(taskRoot, `${handler.slice(0, handler.lastIndexOf('.'))}.js`);
    const functionName = properties.FunctionName === undefined ? `wix-token-service-${STAGE}-${name}` : literal(properties.FunctionName);
    const variables = Object.fromEntries(Object.entries(properties.Environment?.Variables ?? {}).map(([key, value]) => [key, literal(value)]));
    bundles.push({
      name,
      file,
      env: { ...lambdaRuntimeEnv(functionName, properties.MemorySize ?? 128, taskRoot), ...variables },
      event: REFUSED_EVENTS[name] ?? {},
      jsBytes: statSync(file).size,
      zipBytes: statSync(join(output, zipName)).size,
      requireMs: {},
      initMs: {},
    });
  }
  return bundles.sort((a, b) => Object.keys(REFUSED_EVENTS).indexOf(a.name) - Object.keys(REFUSED_EVENTS).indexOf(b.name));
}

/** The reference: the DynamoDB client alone, constructed at load, bundled the best known way. */
async function referenceBundle(dir: string): Promise<Bundle> {
  const file = join(dir, 'reference', 'index.js');
  await build({
    stdin: {
      contents: "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nexport const client = new DynamoDBClient({});\n",
      resolveDir: ROOT,
      loader: 'ts',
      sourcefile: 'reference.ts',
    },
    bundle: true,
    minify: true,
    mainFields: ['module', 'main'],
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    outfile: file,
    logLevel: 'error',
  });
  const env = { ...lambdaRuntimeEnv('reference', 512, dirname(file)) };
  return { name: 'reference', file, env, event: null, jsBytes: statSync(file).size, zipBytes: Number.NaN, requireMs: {}, initMs: {} };
}

/** One fresh process on `node`: milliseconds to require the bundle, and to require it and answer the refused event. */
function coldStart(node: string, bundle: Bundle): { requireMs: number; initMs: number } {
  const script = `
    const { writeSync } = require('node:fs');
    const start = process.hrtime.bigint();
    const mod = require(${JSON.stringify(bundle.file)});
    const required = process.hrtime.bigint();
    const report = () => {
      const ms = (t) => Number(t - start) / 1e6;
      writeSync(3, JSON.stringify({ requireMs: ms(required), initMs: ms(process.hrtime.bigint()) }));
    };
    const event = ${JSON.stringify(bundle.event)};
    if (event === null) report();
    else {
      const context = { awsRequestId: 'bench', functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, getRemainingTimeInMillis: () => 10000 };
      Promise.resolve().then(() => mod.handler(event, context)).then(report, report);
    }
  `;
  const result = spawnSync(node, ['-e', script], { cwd: dirname(bundle.file), env: bundle.env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const out = result.output[3];
  if (result.status !== 0 || !out) throw new Error(`${bundle.name} on ${node} failed (exit ${result.status}):\n${result.stderr}`);
  return JSON.parse(out) as { requireMs: number; initMs: number };
}

function versionOf(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}

async function main(): Promise<void> {
  const nodes = [...new Set([MACHINE_NODE, NODE_22])];
  const versions = Object.fromEntries(nodes.map((node) => [node, versionOf(node)]));
  const dir = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
  try {
    const output = packageService();
    const reference = await referenceBundle(dir);
    const bundles = [reference, ...packagedFunctions(output, dir)];

    for (const node of nodes) for (const bundle of bundles) coldStart(node, bundle); // warm the file cache, not measured
    for (let run = 0; run < RUNS; run++) {
      for (const node of nodes) {
        for (const bundle of bundles) {
          const { requireMs, initMs } = coldStart(node, bundle);
          (bundle.requireMs[node] ??= []).push(requireMs);
          // The reference builds everything it builds at require.
          (bundle.initMs[node] ??= []).push(bundle === reference ? requireMs : initMs);
        }
      }
    }

    const median = (values: number[] | undefined) => percentile(values ?? [], 0.5);
    const figures: Record<string, unknown> = { runs: RUNS, target_ratio: TARGET_RATIO, reference_kb: reference.jsBytes / 1024 };
    const over: string[] = [];
    for (const bundle of bundles.slice(1)) {
      figures[`${bundle.name}_kb`] = bundle.jsBytes / 1024;
      figures[`${bundle.name}_zip_kb`] = bundle.zipBytes / 1024;
      figures[`${bundle.name}_node_options`] = bundle.env['NODE_OPTIONS'] ?? '';
    }
    for (const node of nodes) {
      const version = versions[node] as string;
      const key = `node${version.slice(1).split('.')[0]}`;
      const refRequire = median(reference.requireMs[node]);
      const refInit = median(reference.initMs[node]);
      console.log(`\n${version} (${node}), median of ${RUNS}`);
      console.log(`${'bundle'.padEnd(12)}${'KiB'.padStart(8)}${'zip KiB'.padStart(9)}${'require ms'.padStart(12)}${'ratio'.padStart(7)}${'init ms'.padStart(10)}${'ratio'.padStart(7)}`);
      figures[`${key}_version`] = version;
      figures[`${key}_reference_require_ms_p50`] = refRequire;
      for (const bundle of bundles) {
        const requireMs = median(bundle.requireMs[node]);
        const initMs = median(bundle.initMs[node]);
        const requireRatio = requireMs / refRequire;
        const initRatio = initMs / refInit;
        console.log(
          `${bundle.name.padEnd(12)}${(bundle.jsBytes / 1024).toFixed(0).padStart(8)}${(Number.isNaN(bundle.zipBytes) ? '-' : (bundle.zipBytes / 1024).toFixed(0)).padStart(9)}` +
            `${requireMs.toFixed(1).padStart(12)}${requireRatio.toFixed(2).padStart(7)}${initMs.toFixed(1).padStart(10)}${initRatio.toFixed(2).padStart(7)}`,
        );
        if (bundle === reference) continue;
        figures[`${key}_${bundle.name}_require_ms_p50`] = requireMs;
        figures[`${key}_${bundle.name}_require_ratio`] = requireRatio;
        figures[`${key}_${bundle.name}_init_ms_p50`] = initMs;
        figures[`${key}_${bundle.name}_init_ratio`] = initRatio;
        if (requireRatio > TARGET_RATIO || initRatio > TARGET_RATIO) over.push(`${bundle.name} on ${version}`);
      }
    }
    report('bundles', figures);
    console.log(over.length === 0 ? `\nevery function within ${TARGET_RATIO}x the reference, on every Node` : `\nover ${TARGET_RATIO}x the reference: ${over.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
