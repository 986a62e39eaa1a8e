import fc from 'fast-check';

import { lifecycleProperty, MAX_SKEW_MS, replayParameters } from './support/lifecycle-property';
import { openShared, type Shared } from './support/world';

/**
 * Issue 11, item 3: model-based tests of the instance lifecycle against DynamoDB Local and the Wix
 * simulator (see ./support/lifecycle-property for the commands, faults and invariants).
 *
 * A failure prints fast-check's seed and path; replay it with
 * `FC_SEED=<seed> FC_PATH=<path> npx jest test/model`. FC_RUNS changes the number of sequences.
 */

const RUNS = 200;

let shared: Shared;

beforeAll(async () => {
  shared = await openShared();
});

afterAll(async () => {
  await shared?.close();
});

describe('the instance lifecycle (model-based)', () => {
  it(`keeps every invariant over ${RUNS} random sequences of installs, webhooks, mints, refreshes and sweeps with faults and ±${MAX_SKEW_MS} ms clocks`, async () => {
    const started = Date.now();
    await fc.assert(lifecycleProperty(shared), replayParameters(RUNS));
    const { figures } = shared;
    console.log(
      `model runs ${figures.runs} in ${((Date.now() - started) / 1000).toFixed(1)} s\n  commands ${JSON.stringify(figures.commands)}\n  faults ${JSON.stringify(figures.faults)}\n  notes ${JSON.stringify(figures.notes)}`,
    );
  }, 600_000);
});
