/**
 * Maps a stack trace from a deployed function back to the TypeScript, with the source maps that
 * `npm run package` writes beside the zips (`.serverless/source-maps/`, see serverless.yml).
 *
 *   npm run stack-trace [-- <source maps folder>] < trace.txt
 *
 * Every stack frame in a bundle (`at Ll (/var/task/functions/mint.js:39:54274)` in a Lambda log)
 * becomes `at lib/config/index.ts:50:21`, the TypeScript file, line and column; the rest of the text
 * is left as it is. The maps must be those of the packaging
 * that was deployed: keep `.serverless/source-maps/` with each deployment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * `at <name> (<dir>/functions/<bundle>.js:<line>:<column>)` or `at <dir>/functions/...`: a frame in
 * one of the bundles. The name is the minified one, so it is dropped: the source position names
 * the function.
 */
const FRAME = /\bat\s+(?:((?:async\s+|new\s+)?[^\s()"]+(?:\s\[as [^\]]+\])?)\s+\()?[^\s()"]*?(functions\/[\w.-]+\.js):(\d+):(\d+)\)?/g;

/** The trace with every frame in a bundle replaced by `at <source file>:<line>:<column>`. */
export function mapStackTrace(trace: string, mapsDir: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (bundle: string) => {
    if (!maps.has(bundle)) {
      const file = join(mapsDir, `${bundle}.map`);
      maps.set(bundle, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : undefined);
    }
    return maps.get(bundle);
  };
  return trace.replace(FRAME, (frame, _name: string | undefined, bundle: string, line: string, column: string) => {
    const entry = mapOf(bundle)?.findEntry(Number(line) - 1, Number(column) - 1) as
      | { originalSource?: string; originalLine?: number; originalColumn?: number }
      | undefined;
    if (entry?.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return frame;
    const source = relative(resolve(mapsDir, '../..'), resolve(dirname(join(mapsDir, bundle)), entry.originalSource));
    return `at ${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

if (require.main === module) {
  const mapsDir = resolve(process.argv[2] ?? '.serverless/source-maps');
  process.stdout.write(mapStackTrace(readFileSync(0, 'utf8'), mapsDir));
}
