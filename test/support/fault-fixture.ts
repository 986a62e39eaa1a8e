import { randomUUID } from 'node:crypto';

import { ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { demoAppSecret, type DemoAppSecret } from '../../infra/local/demo-app';
import { mulberry32, startWixSimulator, type WixSimulator } from '../../infra/local/wix-simulator';
import { cipherSource } from '../../lib/runtime';
import { createDynamoTokenStore, LEASE_CLOCK_SKEW_MS, DEFAULT_DUE_SHARDS, dueShardOf, GrantKind, InstanceStatus, type InstanceKey } from '../../lib/store';
import { createWixClient, type FetchLike } from '../../lib/wix';
import { createTestTable, type TestTable } from './dynamodb-table';
import { memorySecrets } from './secrets';

/**
 * What the fault runs (test/integration/faults, issue 8) share: DynamoDB failures injected at the
 * document client, a watcher that checks every version a reader can see, and the consistency
 * check each run ends with.
 */

/** A fault run's world: a fresh table, one demo app, and a Wix simulator that knows the app. */
export async function startFaultWorld(tablePrefix: string): Promise<{ table: TestTable; app: DemoAppSecret; sim: WixSimulator }> {
  const table = await createTestTable(tablePrefix);
  const app = demoAppSecret(randomUUID());
  const sim = await startWixSimulator({ apps: [{ appId: app.appId, appSecret: app.appSecret }] });
  return { table, app, sim };
}

/** How an injected DynamoDB failure looks to the store. */
export const DynamoFault = {
  /** Throttled after the SDK's retries; nothing was written. */
  Throttled: 'throttled',
  /** ProvisionedThroughputExceededException; nothing was written. */
  Throughput: 'throughput',
  /** A 500 from DynamoDB; nothing was written. */
  Internal: 'internal',
  /** The SDK timed out before sending; nothing was written. */
  TimeoutBefore: 'timeout-before',
  /** The write happened but its answer was lost (the SDK timed out, the socket reset). */
  LostAnswer: 'lost-answer',
} as const;
export type DynamoFault = (typeof DynamoFault)[keyof typeof DynamoFault];

export interface FaultyClient extends Pick<DynamoDBDocumentClient, 'send'> {
  /** Faults injected so far, by kind. */
  readonly injected: Record<DynamoFault, number>;
  /** Calls that went through unharmed. */
  readonly passed: number;
  /** Turns injection on or off (on at the start). */
  setEnabled(on: boolean): void;
}

const ALL_FAULTS: readonly DynamoFault[] = Object.values(DynamoFault);

/**
 * A document client that fails a share of the calls it forwards, the ways DynamoDB and the SDK
 * fail once their own retries are spent. Deterministic for a seed.
 *
 * @param options.rate share of calls to fail (0..1)
 * @param options.commands only these commands (e.g. `UpdateCommand`); default all
 */
export function faultyDocumentClient(
  client: Pick<DynamoDBDocumentClient, 'send'>,
  options: { rate: number; seed?: number; kinds?: readonly DynamoFault[]; commands?: readonly string[] },
): FaultyClient {
  const random = mulberry32(options.seed ?? 8);
  const kinds = options.kinds ?? ALL_FAULTS;
  const injected = Object.fromEntries(ALL_FAULTS.map((kind) => [kind, 0])) as Record<DynamoFault, number>;
  let enabled = true;
  let passed = 0;
  const forward = (command: unknown) => (client.send as (command: unknown) => Promise<unknown>)(command);
  return {
    injected,
    get passed() {
      return passed;
    },
    setEnabled(on) {
      enabled = on;
    },
    send: (async (command: { constructor: { name: string } }) => {
      const applies = enabled && (options.commands === undefined || options.commands.includes(command.constructor.name));
      if (!applies || random() >= options.rate) {
        passed += 1;
        return forward(command);
      }
      const kind = kinds[Math.floor(random() * kinds.length)] as DynamoFault;
      injected[kind] += 1;
      if (kind === DynamoFault.LostAnswer) {
        await forward(command).catch(() => undefined);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: { attempts: 3 } });
      }
      throw sdkError(kind);
    }) as FaultyClient['send'],
  };
}

function sdkError(kind: DynamoFault): Error {
  switch (kind) {
    case DynamoFault.Throttled:
      return Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 3 } });
    case DynamoFault.Throughput:
      return Object.assign(new Error('The level of configured provisioned throughput for the table was exceeded.'), { name: 'ProvisionedThroughputExceededException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 3 } });
    case DynamoFault.Internal:
      return Object.assign(new Error('Internal server error'), { name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3 } });
    default:
      return Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError', $metadata: { attempts: 3 } });
  }
}

/** Every item of the table, by partition key (a clean client: no faults). */
export async function scanItems(table: TestTable): Promise<Map<string, Record<string, { S?: string; N?: string }>>> {
  const items = new Map<string, Record<string, { S?: string; N?: string }>>();
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await table.client.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) items.set(item['pk']?.S as string, item as Record<string, { S?: string; N?: string }>);
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/**
 * Reads the whole table over and over while a run goes on and checks what any reader could see:
 * an item's version never goes back, and one version always means one content (tokens, status).
 */
export function watchVersions(table: TestTable, intervalMs = 40): { stop(): Promise<{ reads: number; violations: string[] }> } {
  const seen = new Map<string, { version: number; content: string }>();
  const violations: string[] = [];
  let reads = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      let items;
      try {
        items = await scanItems(table);
      } catch (error) {
        if (running) violations.push(`the table could not be read (${(error as Error).name})`);
        return;
      }
      for (const [pk, item] of items) {
        if (pk.startsWith('state#')) continue;
        const version = Number(item['version']?.N);
        const content = JSON.stringify([item['refreshToken']?.S, item['accessToken']?.S, item['status']?.S, item['grantKind']?.S]);
        const before = seen.get(pk);
        if (before !== undefined && version < before.version) violations.push(`${pk}: version went back from ${before.version} to ${version}`);
        if (before !== undefined && version === before.version && content !== before.content) violations.push(`${pk}: version ${version} was seen with two contents`);
        if (before === undefined || version >= before.version) seen.set(pk, { version, content });
      }
      reads += 1;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { reads, violations };
    },
  };
}

/**
 * Notes every refresh token the service's Wix clients RECEIVED: the answers of `/oauth/access`
 * (code exchange and refresh_token grant) whose body the client read to the end. An answer Wix
 * sent but the client gave up on (its deadline aborted the read, the socket died) is not noted:
 * the service never had that token. The tokens stay in this in-memory set, never printed or
 * logged; the consistency check compares them with the simulator's.
 */
export function receivedRefreshTokens(base: FetchLike = (input, init) => fetch(input, init)): { fetch: FetchLike; readonly tokens: ReadonlySet<string> } {
  const tokens = new Set<string>();
  const note = (body: string) => {
    try {
      const answer = JSON.parse(body) as Record<string, unknown>;
      if (typeof answer['refresh_token'] === 'string') tokens.add(answer['refresh_token']);
    } catch {
      // Not JSON: no token in it.
    }
  };
  const noting: FetchLike = async (input, init) => {
    const response = await base(input, init);
    if (!/\/oauth\/access$/.test(new URL(input).pathname) || response.status < 200 || response.status > 299) return response;
    const text = response.text.bind(response);
    const json = response.json.bind(response);
    // Noted only once the whole body is in the service's hands (the read resolved).
    Object.defineProperty(response, 'text', {
      value: async () => {
        const body = await text();
        note(body);
        return body;
      },
    });
    Object.defineProperty(response, 'json', {
      value: async () => {
        const body = (await json()) as unknown;
        note(JSON.stringify(body));
        return body;
      },
    });
    return response;
  };
  return { fetch: noting, tokens };
}

/** What {@link checkConsistency} found for a set of instances. */
export interface ConsistencyReport {
  instances: number;
  /**
   * Legacy instances whose refresh token the service lost: must be 0. Without `received`, any
   * whose stored refresh token Wix no longer accepts (or that hold none). With it, only those
   * for which the service received a refresh token newer than the stored one and did not store
   * it, or whose stored one is dead for no reason the run explains.
   */
  refreshTokensLost: number;
  /**
   * Legacy instances (only counted with `received`) whose stored refresh token was rotated away
   * by an answer that never reached the service: Wix issued the successor, the client had
   * already given up (its deadline aborted the read). No system can keep a token it never
   * received; like a crash between the answer and the write (crash.test.ts), the instance must
   * fall back to client credentials and stay served. Their state is checked (see `problems`).
   */
  answersLostInTransit: number;
  /** The instances counted in `answersLostInTransit`. */
  inTransit: InstanceKey[];
  /** Held leases that a taker-over could not take once the lease length had passed: must be 0. */
  stuckLeases: number;
  /** Anything else wrong, one line each (no token in them). */
  problems: string[];
}

/**
 * Checks each instance as the service would find it after the run: its tokens decrypt, its
 * legacy refresh token is one Wix accepts now, its access token (if any) is one Wix issued for
 * this very instance, its lease is free or can be taken over once the lease length has passed,
 * its version is a positive integer and its due-index keys agree with the record.
 *
 * With `received` (see {@link receivedRefreshTokens}), a refresh token the service never
 * received is not blamed on it: an instance whose live token never reached the service is an
 * answer lost in transit, and must then be active and served by client credentials (already
 * fallen back), or, unless `settled`, legacy still waiting for its fallback (active with the
 * dead token, as a crash leaves it, or needs_reauth after a fallback whose client-credentials
 * call failed). Tokens received by earlier, superseded install attempts (older than the stored
 * one) do not count.
 */
export async function checkConsistency(options: {
  table: TestTable;
  sim: WixSimulator;
  app: DemoAppSecret;
  keys: readonly InstanceKey[];
  legacy: ReadonlySet<string>;
  /** Lease length the run's stores used. */
  leaseTtlMs: number;
  /** The refresh tokens the service received from Wix ({@link receivedRefreshTokens}). */
  received?: ReadonlySet<string>;
  /** With `received`: the fallback must have happened (every instance was refreshed since the faults). */
  settled?: boolean;
}): Promise<ConsistencyReport> {
  const { table, sim, app } = options;
  const cipherFor = cipherSource(memorySecrets([app]));
  const store = createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor });
  // A store whose clock is one lease length ahead: it can take over any lease a crashed or faulted holder left.
  const later = createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor, now: () => Date.now() + options.leaseTtlMs + LEASE_CLOCK_SKEW_MS + 1 });
  const wix = createWixClient({ baseUrl: sim.url });
  const report: ConsistencyReport = { instances: options.keys.length, refreshTokensLost: 0, answersLostInTransit: 0, inTransit: [], stuckLeases: 0, problems: [] };
  const items = await scanItems(table);
  // Issue order of every refresh token the service received, by instance.
  const receivedSeqs = new Map<string, number[]>();
  for (const token of options.received ?? []) {
    const described = sim.describeToken(token);
    if (described?.kind !== 'refresh') continue;
    receivedSeqs.set(described.instanceId, [...(receivedSeqs.get(described.instanceId) ?? []), described.seq]);
  }

  for (const key of options.keys) {
    const name = key.instanceId.slice(0, 8);
    let record;
    try {
      record = await store.getInstance(key, { consistentRead: true });
    } catch (error) {
      report.problems.push(`${name}: the record cannot be read (${(error as Error).name})`);
      continue;
    }
    if (record === undefined) {
      report.problems.push(`${name}: no record`);
      if (options.legacy.has(key.instanceId)) report.refreshTokensLost += 1;
      continue;
    }
    if (!Number.isInteger(record.version) || record.version < 1) report.problems.push(`${name}: version ${record.version}`);

    let inTransit = false;
    if (options.legacy.has(key.instanceId)) {
      const live = sim.liveRefreshTokens(key.appId, key.instanceId);
      const storedLive = record.refreshToken !== undefined && live.includes(record.refreshToken);
      if (options.received === undefined) {
        if (!storedLive) report.refreshTokensLost += 1;
      } else {
        const storedSeq = record.refreshToken === undefined ? 0 : (sim.describeToken(record.refreshToken)?.seq ?? 0);
        const receivedNewer = (receivedSeqs.get(key.instanceId) ?? []).some((seq) => seq > storedSeq);
        const liveNeverReceived = live.some((token) => !options.received?.has(token));
        if (receivedNewer) report.refreshTokensLost += 1;
        else if (!storedLive && liveNeverReceived) inTransit = true;
        else if (!storedLive) report.refreshTokensLost += 1;
      }
    }
    if (inTransit) {
      report.answersLostInTransit += 1;
      report.inTransit.push(key);
      const fellBack = record.status === InstanceStatus.Active && record.grantKind === GrantKind.ClientCredentials;
      const waiting =
        record.grantKind === GrantKind.Legacy && (record.status === InstanceStatus.Active || record.status === InstanceStatus.NeedsReauth);
      if (!fellBack && (options.settled === true || !waiting)) {
        report.problems.push(`${name}: answer lost in transit, but status ${record.status} and grant kind ${record.grantKind}`);
      }
    } else {
      if (record.status !== InstanceStatus.Active) report.problems.push(`${name}: status ${record.status}`);
      if (options.legacy.has(key.instanceId) && record.grantKind !== GrantKind.Legacy) report.problems.push(`${name}: grant kind ${record.grantKind}`);
    }
    if (record.accessToken !== undefined) {
      const info = await wix.getTokenInfo(record.accessToken);
      if (info.instanceId !== key.instanceId) report.problems.push(`${name}: the stored access token is not this instance's`);
    }
    if (record.refreshDueAt !== undefined) {
      const raw = items.get(`${key.appId}#${key.instanceId}`);
      if (raw?.['dueShard']?.S !== dueShardOf(key, DEFAULT_DUE_SHARDS)) report.problems.push(`${name}: due shard does not match`);
    }
    if (record.lease !== undefined) {
      const owner = `checker-${randomUUID()}`;
      const taken = await later.acquireLease(key, { owner });
      if (!taken.acquired) report.stuckLeases += 1;
      else await later.releaseLease(key, owner);
    }
  }
  return report;
}

/** Prints a fault run's figures (captured by jest with the file's output). */
export function printFigures(title: string, figures: Record<string, unknown>): void {
  const lines = Object.entries(figures).map(([name, value]) => `  ${name.padEnd(48)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  console.log(`${title}\n${lines.join('\n')}`);
}
