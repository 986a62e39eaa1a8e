/**
 * bench/soak: the model-based lifecycle property of test/model (issue 11) run as many times as
 * asked, outside jest: `npm run soak -- --runs N [--seed S]`.
 *
 * Starts its own DynamoDB Local (free loopback port) and Wix simulator. Each run is one fast-check
 * run of the property with its own seed (seed S + run index), stopped at its first failure without
 * shrinking, so the soak keeps going and counts: runs, commands executed by kind, faults injected by
 * kind, violations by kind (0 expected) and seconds. For each kind of violation it prints the first
 * failing seed: `FC_SEED=<seed> FC_RUNS=1 npx jest test/model` replays it there, shrinking included.
 * MODEL_SKEW_MS sets the containers' clock offsets (default ±5000 ms), as in the test.
 */
import fc from 'fast-check';

import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../infra/local/dynamodb-local';
import { lifecycleProperty, MAX_SKEW_MS } from '../test/model/support/lifecycle-property';
import { InvariantViolation, openShared } from '../test/model/support/world';

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

async function main(): Promise<void> {
  const runs = Number(argument('runs') ?? 100);
  const seed = Number(argument('seed') ?? Date.now() % 2 ** 31);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dynamoDb = await startDynamoDbLocal();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamoDb.endpoint;
  process.env.AWS_REGION = LOCAL_REGION;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  const shared = await openShared();
  const started = Date.now();
  const violations: Record<string, number> = {};
  const firstSeed: Record<string, number> = {};
  const errors: Record<string, number> = {};
  try {
    const property = lifecycleProperty(shared);
    for (let run = 0; run < runs; run++) {
      const runSeed = (seed + run) | 0;
      const details = await fc.check(property, { seed: runSeed, numRuns: 1, endOnFailure: true });
      if (details.failed) {
        const error = details.errorInstance;
        const kind = error instanceof InvariantViolation ? error.kind : `harness error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
        const counts = error instanceof InvariantViolation ? violations : errors;
        counts[kind] = (counts[kind] ?? 0) + 1;
        firstSeed[kind] ??= runSeed;
      }
      if ((run + 1) % 500 === 0) process.stdout.write(`  ${run + 1} runs, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    }
  } finally {
    await shared.close();
    await dynamoDb.stop();
  }
  const { figures } = shared;
  const total = Object.values(violations).reduce((sum, count) => sum + count, 0);
  const lines = [
    `soak: the lifecycle property (test/model), clocks ±${MAX_SKEW_MS} ms, seeds ${seed}..${(seed + runs - 1) | 0}`,
    `  runs                 ${figures.runs}`,
    `  seconds              ${((Date.now() - started) / 1000).toFixed(1)}`,
    `  commands             ${JSON.stringify(figures.commands)}`,
    `  faults injected      ${JSON.stringify(figures.faults)}`,
    `  noted (not failures) ${JSON.stringify(figures.notes)}`,
    `  real ms by step      ${JSON.stringify(figures.stepMs)}`,
    `  runs with violations ${total} ${JSON.stringify(violations)}`,
    `  harness errors       ${JSON.stringify(errors)}`,
    ...Object.entries(firstSeed).map(([kind, runSeed]) => `  first seed of ${kind}: FC_SEED=${runSeed} FC_RUNS=1`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.exitCode = total > 0 || Object.keys(errors).length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
