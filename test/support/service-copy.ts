import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PROJECT_ROOT } from '../../infra/local/stack';

/** What `serverless` reads to package or run the service. */
const SERVICE_FILES = ['serverless.yml', 'package.json', 'tsconfig.json', 'functions', 'lib', 'infra', 'packages'];

/** A private copy of the service, for one serverless run. */
export interface ServiceCopy {
  dir: string;
  remove(): Promise<void>;
}

/**
 * Copies the service's sources to a fresh temporary directory, with node_modules linked in.
 *
 * serverless-esbuild builds in `<service>/.esbuild` and deletes it when done, and `serverless
 * package` writes `<service>/.serverless`: run from the checkout, a test would race other tests
 * (and a developer's `npm start`) for those folders and overwrite the developer's artifacts.
 */
export async function copyService(label: string): Promise<ServiceCopy> {
  const dir = await mkdtemp(join(tmpdir(), `wix-token-service-${label}-`));
  for (const name of SERVICE_FILES) await cp(join(PROJECT_ROOT, name), join(dir, name), { recursive: true });
  await symlink(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
