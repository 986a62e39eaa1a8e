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
 * that constructs DynamoDBClient at load and whose handler sends one GetItem (minified, mainFields
 * module-first, platform node, target node22, format cjs).
 *
 * Each bundle is loaded in fresh Node processes, RUNS of them taken round-robin over the bundles and
 * the two Node binaries so drift hits every figure alike; each process measures
 *   require   loading the bundle (`require()` of the handler file), all a function does at load;
 *   init      require, then the first invoke (FIRST_INVOKES): for mint and status a request as
 *             production sends it, whose work is one GetItem, answered by a loopback stand-in
 *             for DynamoDB (FAKE_DYNAMODB, through AWS_ENDPOINT_URL_DYNAMODB) so the SDK's whole
 *             first-call path runs (credentials, endpoint, signing, a TLS connection, parsing),
 *             as the reference's GetItem does; for refresh, install and webhooks, whose realistic
 *             requests need more than a bare DynamoDB client has an equivalent for, a request
 *             refused before any network call, compared with the reference's require (the
 *             wiring a function does once per container, against a client built at load).
 * on the machine's Node (the one running npm) and on the real Node 22 binary of the `node`
 * devDependency (Lambda's nodejs22.x). Ratios are to the reference on the same Node in this run;
 * the target is <= 1.1 for every function, both figures, both Nodes.
 *
 * Run: npm run bench:bundles   (RUNS=n to change the number of runs, default 21)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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

const APP_ID = '00000000-0000-4000-8000-000000000000';
const INSTANCE_ID = '11111111-1111-4111-8111-111111111111';
const HTTP_GET = (path: string, query: string) => ({
  version: '2.0',
  routeKey: `GET ${path}`,
  rawPath: path,
  rawQueryString: query,
  queryStringParameters: Object.fromEntries(new URLSearchParams(query)),
  headers: { host: 'bench.execute-api.us-east-1.amazonaws.com' },
  requestContext: { requestId: 'bench', http: { method: 'GET', path } },
  isBase64Encoded: false,
});

/**
 * Each function's first invoke, what it should come to, and whether it makes the one DynamoDB
 * call the reference's first invoke makes (a GetItem, answered by FAKE_DYNAMODB).
 *
 * mint and status read an instance's item, as in production. refresh, install and webhooks have
 * no such request: a sweep queries every shard of the due index (16 Queries), a direct refresh
 * takes a lease before it reads, and install and webhooks start with a read of the app's secret
 * from Secrets Manager (and webhooks with jose), none of which a bare DynamoDB client has an
 * equivalent for. Their first invoke is refused before any network call (a direct refresh
 * without an instance id; a callback without code or state, 400; a GET of /webhooks, 404: even a
 * body that is not a JWT reads the secrets first), so it is their wiring (config, runtime,
 * HTTP stack, verifier) on top of their require, and it is compared with the reference's require
 * (its client built at load), not with its GetItem.
 */
const FIRST_INVOKES: Record<string, { event: unknown; answer: string; readsDynamo: boolean }> = {
  mint: { event: { appId: APP_ID, instanceId: INSTANCE_ID }, answer: 'rejected InstanceUninstalled', readsDynamo: true },
  refresh: { event: {}, answer: 'rejected InvalidRequest', readsDynamo: false },
  status: { event: { appId: APP_ID, instanceId: INSTANCE_ID }, answer: 'resolved', readsDynamo: true },
  install: { event: HTTP_GET('/oauth/callback', ''), answer: 'resolved 400', readsDynamo: false },
  webhooks: { event: HTTP_GET('/webhooks', ''), answer: 'resolved 404', readsDynamo: false },
};

/**
 * What the stand-in's GetItem finds: an uninstalled instance, as lib/store/item writes it. mint
 * refuses it (InstanceUninstalled) and status describes it, both after that one read; an instance
 * the table lacks would send mint to a lease write and a client-credentials grant instead.
 */
const UNINSTALLED_ITEM = {
  pk: { S: `${APP_ID}#${INSTANCE_ID}` },
  appId: { S: APP_ID },
  instanceId: { S: INSTANCE_ID },
  status: { S: 'uninstalled' },
  grantKind: { S: 'client_credentials' },
  version: { N: '3' },
  createdAt: { N: '1767225600000' },
  updatedAt: { N: '1767312000000' },
  lastEventAt: { N: '1767312000000' },
};

/**
 * A loopback stand-in for DynamoDB, in its own process (the measured processes are spawned
 * synchronously): GetItem finds UNINSTALLED_ITEM, Query and Scan an empty page, writes succeed.
 *
 * It speaks HTTPS, as DynamoDB does, with a certificate made for the run and trusted through
 * NODE_EXTRA_CA_CERTS. Over plain HTTP the measured processes would pay for something production
 * never loads: the SDK's HTTP handler imports node:http for an http: endpoint only, and that
 * import loads Node's undici (6-8 ms of every figure, the reference's too), where production
 * pays a TLS handshake instead.
 */
const FAKE_DYNAMODB = `
  const { readFileSync } = require('node:fs');
  const { createServer } = require('node:https');
  const [key, cert] = process.argv.slice(1).map((file) => readFileSync(file));
  const item = ${JSON.stringify(UNINSTALLED_ITEM)};
  const answers = { GetItem: { Item: item }, Query: { Items: [], Count: 0, ScannedCount: 0 }, Scan: { Items: [], Count: 0, ScannedCount: 0 } };
  const server = createServer({ key, cert }, (request, response) => {
    request.resume();
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '').split('.').pop();
      const body = JSON.stringify(answers[target] ?? {});
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'bench' });
      response.end(body);
    });
  });
  server.keepAliveTimeout = 1;
  server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

/** Starts the stand-in; resolves to its endpoint URL and a stop function. */
async function startFakeDynamo(dir: string): Promise<{ url: string; caFile: string; stop: () => void }> {
  const keyFile = join(dir, 'dynamodb-key.pem');
  const caFile = join(dir, 'dynamodb-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const child = spawn(MACHINE_NODE, ['-e', FAKE_DYNAMODB, keyFile, caFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
  });
  return { url: `https://127.0.0.1:${port}`, caFile, stop: () => child.kill() };
}

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
  /** What the first invoke should come to: `resolved <statusCode>` or `rejected <error name>`. */
  answer: string;
  /** Whether the first invoke makes one DynamoDB call (compared with the reference's GetItem) or none (with its require). */
  readsDynamo: boolean;
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
      event: FIRST_INVOKES[name]?.event ?? {},
      answer: FIRST_INVOKES[name]?.answer ?? 'resolved',
      readsDynamo: FIRST_INVOKES[name]?.readsDynamo ?? false,
      jsBytes: statSync(file).size,
      zipBytes: statSync(join(output, zipName)).size,
      requireMs: {},
      initMs: {},
    });
  }
  return bundles.sort((a, b) => Object.keys(FIRST_INVOKES).indexOf(a.name) - Object.keys(FIRST_INVOKES).indexOf(b.name));
}

/**
 * The reference: the DynamoDB client alone, constructed at load, bundled the best known way, with
 * a handler that makes one GetItem (what mint's and status's first invoke send).
 */
async function referenceBundle(dir: string): Promise<Bundle> {
  const file = join(dir, 'reference', 'index.js');
  await build({
    stdin: {
      contents: [
        "import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';",
        'const client = new DynamoDBClient({});',
        "export const handler = () => client.send(new GetItemCommand({ TableName: 'bench', Key: { pk: { S: 'INSTANCE#bench' }, sk: { S: 'TOKEN' } }, ConsistentRead: true }));",
      ].join('\n'),
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
  return { name: 'reference', file, env, event: {}, answer: 'resolved', readsDynamo: true, jsBytes: statSync(file).size, zipBytes: Number.NaN, requireMs: {}, initMs: {} };
}

/** One fresh process on `node`: milliseconds to require the bundle, and to require it and answer its first invoke. */
function coldStart(node: string, bundle: Bundle, dynamo: { url: string; caFile: string }): { requireMs: number; initMs: number } {
  const script = `
    const { writeSync } = require('node:fs');
    const start = process.hrtime.bigint();
    const mod = require(${JSON.stringify(bundle.file)});
    const required = process.hrtime.bigint();
    const report = (answer) => {
      const ms = (t) => Number(t - start) / 1e6;
      writeSync(3, JSON.stringify({ requireMs: ms(required), initMs: ms(process.hrtime.bigint()), answer }));
    };
    const event = ${JSON.stringify(bundle.event)};
    const context = { awsRequestId: 'bench', functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, getRemainingTimeInMillis: () => 10000 };
    Promise.resolve()
      .then(() => mod.handler(event, context))
      .then(
        (value) => report(typeof value?.statusCode === 'number' ? 'resolved ' + value.statusCode : 'resolved'),
        (error) => report('rejected ' + (error?.name ?? typeof error)),
      );
  `;
  const result = spawnSync(node, ['-e', script], { cwd: dirname(bundle.file), env: { ...bundle.env, AWS_ENDPOINT_URL_DYNAMODB: dynamo.url, NODE_EXTRA_CA_CERTS: dynamo.caFile }, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const out = result.output[3];
  if (result.status !== 0 || !out) throw new Error(`${bundle.name} on ${node} failed (exit ${result.status}):\n${result.stderr}`);
  const measured = JSON.parse(out) as { requireMs: number; initMs: number; answer: string };
  if (measured.answer !== bundle.answer) throw new Error(`${bundle.name} on ${node}: the first invoke came to "${measured.answer}", not "${bundle.answer}"\n${result.stderr}`);
  return measured;
}

function versionOf(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}

async function main(): Promise<void> {
  const nodes = [...new Set([MACHINE_NODE, NODE_22])];
  const versions = Object.fromEntries(nodes.map((node) => [node, versionOf(node)]));
  const dir = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
  const dynamo = await startFakeDynamo(dir);
  try {
    const output = packageService();
    const reference = await referenceBundle(dir);
    const bundles = [reference, ...packagedFunctions(output, dir)];

    for (const node of nodes) for (const bundle of bundles) coldStart(node, bundle, dynamo); // warm the file cache, not measured
    for (let run = 0; run < RUNS; run++) {
      for (const node of nodes) {
        for (const bundle of bundles) {
          const { requireMs, initMs } = coldStart(node, bundle, dynamo);
          (bundle.requireMs[node] ??= []).push(requireMs);
          (bundle.initMs[node] ??= []).push(initMs);
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
      console.log(`${'bundle'.padEnd(12)}${'KiB'.padStart(8)}${'zip KiB'.padStart(9)}${'require ms'.padStart(12)}${'ratio'.padStart(7)}${'+ invoke'.padStart(10)}${'ratio'.padStart(7)}  first call`);
      figures[`${key}_version`] = version;
      figures[`${key}_reference_require_ms_p50`] = refRequire;
      figures[`${key}_reference_init_ms_p50`] = refInit;
      for (const bundle of bundles) {
        const requireMs = median(bundle.requireMs[node]);
        const initMs = median(bundle.initMs[node]);
        const requireRatio = requireMs / refRequire;
        const initRatio = initMs / (bundle.readsDynamo ? refInit : refRequire);
        console.log(
          `${bundle.name.padEnd(12)}${(bundle.jsBytes / 1024).toFixed(0).padStart(8)}${(Number.isNaN(bundle.zipBytes) ? '-' : (bundle.zipBytes / 1024).toFixed(0)).padStart(9)}` +
            `${requireMs.toFixed(1).padStart(12)}${requireRatio.toFixed(2).padStart(7)}${initMs.toFixed(1).padStart(10)}${initRatio.toFixed(2).padStart(7)}${(bundle.readsDynamo ? '  GetItem' : '  none').padEnd(9)}`,
        );
        if (bundle === reference) continue;
        figures[`${key}_${bundle.name}_require_ms_p50`] = requireMs;
        figures[`${key}_${bundle.name}_require_ratio`] = requireRatio;
        figures[`${key}_${bundle.name}_init_ms_p50`] = initMs;
        figures[`${key}_${bundle.name}_init_ratio`] = initRatio;
        figures[`${key}_${bundle.name}_first_call`] = bundle.readsDynamo ? 'GetItem' : 'none';
        if (requireRatio > TARGET_RATIO || initRatio > TARGET_RATIO) over.push(`${bundle.name} on ${version}`);
      }
    }
    report('bundles', figures);
    console.log(over.length === 0 ? `\nevery function within ${TARGET_RATIO}x the reference, on every Node` : `\nover ${TARGET_RATIO}x the reference: ${over.join(', ')}`);
  } finally {
    dynamo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
