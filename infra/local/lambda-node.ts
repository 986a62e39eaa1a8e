import { dirname, join } from 'node:path';

/**
 * The Node binary of Lambda's runtime (nodejs22.x): the `node@22` devDependency's real binary,
 * `node_modules/node/bin/node`. Run by path only: package.json's postinstall removes the
 * `node_modules/.bin/node` link the package brings, so `node` in npm scripts stays the machine's.
 */
export function lambdaNodeBinary(): string {
  return join(dirname(require.resolve('node/package.json')), 'bin/node');
}
