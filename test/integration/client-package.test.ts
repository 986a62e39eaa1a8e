import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The client as a caller gets it: `npm pack` of packages/client, installed from the tarball into
 * an empty project whose TypeScript compiles against it and whose `require` and `import` load it.
 * The peer @aws-sdk/client-lambda is linked from this repository's node_modules (no download).
 */

const repo = path.resolve(__dirname, '../..');
const packageDir = path.join(repo, 'packages/client');
const tsc = path.join(repo, 'node_modules/.bin/tsc');
let work: string;
let consumer: string;

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/** What tsc printed when it refused the project ('' when it compiled it). */
function compilerErrors(project: string): string {
  try {
    run(tsc, ['-p', project], consumer);
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

beforeAll(() => {
  if (!existsSync(path.join(packageDir, 'dist/index.cjs'))) run('npm', ['run', 'build'], packageDir);
  work = mkdtempSync(path.join(tmpdir(), 'client-package-'));
  run('npm', ['pack', '--pack-destination', work, '--silent'], packageDir);
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack wrote no tarball');

  consumer = path.join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  run('npm', ['install', path.join(work, tarball), '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts'], consumer);
  mkdirSync(path.join(consumer, 'node_modules/@aws-sdk'), { recursive: true });
  symlinkSync(path.join(repo, 'node_modules/@aws-sdk/client-lambda'), path.join(consumer, 'node_modules/@aws-sdk/client-lambda'), 'dir');
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed client', () => {
  it('ships only dist and package.json, and needs nothing at run time but its peer', () => {
    const installed = JSON.parse(readFileSync(path.join(consumer, 'node_modules/@wix-token-service/client/package.json'), 'utf8'));

    expect(installed.dependencies).toBeUndefined();
    expect(Object.keys(installed.peerDependencies)).toEqual(['@aws-sdk/client-lambda']);
    expect(readdirSync(path.join(consumer, 'node_modules/@wix-token-service/client')).sort()).toEqual(['dist', 'package.json']);
  });

  it('compiles a consumer calling getAccessToken, elevate and wixFetch, as ESM and as CommonJS', () => {
    const calls = `
const client = createTokenClient({ functionName: 'wix-token-service-prod-mint' });
export async function use(instanceId: string, frontendToken: string): Promise<number> {
  const token: InstanceToken = await client.getAccessToken(instanceId, { minValiditySeconds: 600, rejectedToken: 'x' });
  const elevated = await client.elevate(frontendToken, { appId: token.appId });
  const response: Response = await client.wixFetch(elevated.instanceId, 'https://www.wixapis.com/apps/v1/instance', { deadlineMs: 5000 });
  const direct = await getAccessToken(instanceId, { functionName: 'mint' });
  await elevate(frontendToken, { functionName: 'mint' });
  await wixFetch(instanceId, 'https://www.wixapis.com/apps/v1/instance', { functionName: 'mint', method: 'GET' });
  try {
    await client.getAccessToken(instanceId);
  } catch (error) {
    if (error instanceof InstanceUninstalledError || error instanceof WixRateLimitedError) return 0;
  }
  return response.status + direct.expiresAt.getTime();
}
`;
    const imports = `InstanceUninstalledError, WixRateLimitedError, createTokenClient, elevate, getAccessToken, wixFetch, type InstanceToken`;
    writeFileSync(path.join(consumer, 'esm.ts'), `import { ${imports} } from '@wix-token-service/client';\n${calls}`);
    writeFileSync(path.join(consumer, 'cjs.cts'), `import { ${imports} } from '@wix-token-service/client';\n${calls}`);
    // A call the types must refuse: proves the compiler read the package's declarations.
    writeFileSync(path.join(consumer, 'wrong.ts'), `import { createTokenClient } from '@wix-token-service/client';\ncreateTokenClient({ functionName: 1 });\n`);
    const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], noEmit: true, skipLibCheck: true, types: [] };
    writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['esm.ts', 'cjs.cts'] }));
    writeFileSync(path.join(consumer, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions, files: ['wrong.ts'] }));

    expect(compilerErrors('tsconfig.json')).toBe('');
    expect(compilerErrors('tsconfig.wrong.json')).toMatch(/wrong\.ts.*TS2322.*number.*string/s);
  }, 120_000);

  it('loads with require and with import', () => {
    const script = "const names = ['createTokenClient', 'getAccessToken', 'elevate', 'wixFetch', 'InvalidRequestError'];";
    const required = run(process.execPath, ['-e', `${script} const m = require('@wix-token-service/client'); console.log(names.map((n) => typeof m[n]).join(','))`], consumer);
    const imported = run(
      process.execPath,
      ['--input-type=module', '-e', `${script} const m = await import('@wix-token-service/client'); console.log(names.map((n) => typeof m[n]).join(','))`],
      consumer,
    );

    expect(required.trim()).toBe('function,function,function,function,function');
    expect(imported.trim()).toBe('function,function,function,function,function');
  });
});
