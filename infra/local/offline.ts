/**
 * serverless-offline as a part of the local stack (./stack): its environment, its start (resolved
 * once its HTTP server listens) and its stop, which reaches the whole process group it leads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { systemClock } from '../../lib/runtime/clock';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local';

/** The project root: where serverless.yml is. */
export const PROJECT_ROOT = join(__dirname, '../..');

/** One started part of the stack, and how to stop it. */
export interface Part {
  name: string;
  stop(): Promise<void>;
}

/** Where serverless-offline listens. */
export interface OfflinePorts {
  /** The HTTP API (install, webhooks). */
  http: number;
  /** The Lambda invoke endpoint (mint, refresh). */
  lambda: number;
}

/** serverless-offline's output, which after start-up is the functions' logs. */
export type OfflineOutput = (text: string, stream: 'stdout' | 'stderr', ready: boolean) => void;

/** serverless-offline's environment: this process's, pointed at the local parts with dummy credentials. */
export function offlineEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...overrides,
  };
  // A developer's real session or profile must not reach the local functions.
  delete env['AWS_SESSION_TOKEN'];
  delete env['AWS_PROFILE'];
  return env;
}

export interface OfflineOptions {
  serviceDir: string;
  stage: string;
  ports: OfflinePorts;
  env: NodeJS.ProcessEnv;
  readyTimeoutMs: number;
  node: string;
  onOutput: OfflineOutput | undefined;
  signal: AbortSignal | undefined;
}

/** Runs `serverless offline` and resolves once its HTTP server listens. */
export async function startOffline(parts: Part[], options: OfflineOptions): Promise<{ pid: number; exited: Promise<void> }> {
  const bin = join(PROJECT_ROOT, 'node_modules/serverless/bin/serverless.js');
  const args = [bin, 'offline', 'start', '--stage', options.stage, '--httpPort', String(options.ports.http), '--lambdaPort', String(options.ports.lambda), '--host', '127.0.0.1'];
  // Its own process group, so stop() reaches serverless and anything it spawns.
  const child: ChildProcess = spawn(options.node, args, { cwd: options.serviceDir, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => undefined);

  // Registered before it is ready, so a failure or an abort during start-up stops it too.
  parts.push({
    name: 'serverless-offline',
    stop: async () => {
      const pid = child.pid;
      if (pid === undefined) return;
      if (child.exitCode === null && child.signalCode === null) {
        signalGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      // serverless may exit before what it spawned (esbuild's service process) does.
      if (!(await groupGone(pid, 2000))) {
        signalGroup(pid, 'SIGKILL');
        if (!(await groupGone(pid, 3000))) throw new Error(`processes of group ${pid} outlived SIGKILL`);
      }
    },
  });

  let ready = false;
  let output = '';
  let onReady: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (onReady = resolve));
  const forward = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    options.onOutput?.(text, stream, ready);
    if (ready) return;
    output = (output + text).slice(-8000);
    if (/Server ready:/.test(output)) onReady();
  };
  child.stdout?.on('data', forward('stdout'));
  child.stderr?.on('data', forward('stderr'));

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      listening,
      spawnFailed,
      exited.then(() => {
        throw new Error(`serverless-offline exited before it was ready:\n${output}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`serverless-offline was not ready after ${options.readyTimeoutMs} ms:\n${output}`)), options.readyTimeoutMs);
      }),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(new Error('the local stack was stopped while starting'));
        if (options.signal?.aborted) onAbort();
        else options.signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  }
  ready = true;
  if (child.pid === undefined) throw new Error('serverless-offline has no pid');
  return { pid: child.pid, exited };
}

/** Whether no process of the group led by `pid` is left, polling for up to `timeoutMs`. */
async function groupGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
      throw error;
    }
    if (Date.now() >= deadline) return false;
    await systemClock.sleep(50);
  }
}

/** Signals every process in the group led by `pid`; a group already gone is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
