import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// The AWS SDK warns about Node 20 on every client; the figures are easier to read without it.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** The value at quantile `q` (0..1) of `values`, nearest rank. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  });
  await Promise.all(workers);
}

/** Prints the figures as a table and writes them to bench/results/<name>.json. */
export function report(name: string, figures: Record<string, unknown>): void {
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ benchmark: name, at: new Date().toISOString(), node: process.version, ...figures }, null, 2)}\n`);
  console.log(`\n== bench/${name} (${process.version})`);
  for (const [key, value] of Object.entries(figures)) {
    console.log(`${key.padEnd(44)} ${typeof value === 'number' ? round(value) : JSON.stringify(value)}`);
  }
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 3 : 1);
}
