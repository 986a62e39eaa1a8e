/**
 * `npm run bench`: every benchmark in turn, each in its own process so one's JIT, sockets and
 * DynamoDB Local do not colour the next one's figures. Stops at the first that fails.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BENCHMARKS = ['grants', 'store', 'mint', 'sweep', 'bundles', 'load'];

for (const name of BENCHMARKS) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, `${name}.ts`)], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`bench/${name} failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}
