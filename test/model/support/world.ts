import { randomUUID } from 'node:crypto';

import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';

import { createInstallHandler } from '../../../functions/install';
import { createMintHandler } from '../../../functions/mint';
import { createRefreshHandler } from '../../../functions/refresh';
import { createWebhooksHandler } from '../../../functions/webhooks';
import { demoAppSecret, type DemoAppSecret } from '../../../infra/local/demo-app';
import { startWixSimulator, type WixSimulator } from '../../../infra/local/wix-simulator';
import { cipherSource, systemClock } from '../../../lib/runtime';
import { createDynamoInstallStateStore, createDynamoTokenStore, type InstanceKey, type InstanceRecord } from '../../../lib/store';
import { instancePk, recordFromItem, type InstanceItem } from '../../../lib/store/item';
import { createTokenCache } from '../../../lib/tokens/token-cache';
import { createElevation } from '../../../lib/tokens/elevation';
import { createRejectedTokens } from '../../../lib/tokens/rejected-tokens';
import { createWixClient } from '../../../lib/wix';
import { createTestTable, type TestTable } from '../../support/dynamodb-table';
import { memorySecrets } from '../../support/secrets';
import { recordMetrics } from '../../support/refresh-fixture';
import { controlledDocumentClient, controlledWixFetch, type ControlledDocumentClient, type ControlledWix, type InFlightTracker } from './faults';

/**
 * The world a model-based run acts on: one DynamoDB Local table and one Wix simulator for the whole
 * file (each run uses fresh instance ids and deletes its items when it ends), and per run a set of
 * containers of each function, each with its own memory, its own clock offset from Wix's and its
 * own armed faults.
 */

/** Lease length of every store in the runs: short, so a dead holder's lease costs little real time. */
export const LEASE_TTL_MS = 2500;
/** A waiter polls this long at most: a lease's life and a little (MintDeps.leaseWaitMs). */
export const LEASE_WAIT_MS = LEASE_TTL_MS + 500;
/** Containers of each kind in a run (bursts give each concurrent action a container of its own). */
export const CONTAINERS = { mint: 3, refresh: 2, install: 2, webhooks: 2 } as const;
export type ContainerKind = keyof typeof CONTAINERS;

/**
 * Wix's clock: real time since the run started plus the jumps the model makes, from a base far
 * from today. Real time flows so timeouts keep their meaning; jumps expire tokens, codes and
 * leases without real waiting.
 */
export class ModelClock {
  private readonly realStart = Date.now();
  private jumped = 0;

  constructor(private readonly base: number) {}

  now(): number {
    return this.base + (Date.now() - this.realStart) + this.jumped;
  }

  jump(ms: number): void {
    this.jumped += ms;
  }
}

export interface Silent {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** A logger that keeps only what the model reads: messages at error level and a few markers. */
export interface MarkLogger extends Silent {
  errors: string[];
  /** Messages seen since the last {@link takeMarks}. */
  takeMarks(): { messages: string[]; source?: string };
}

function markLogger(): MarkLogger {
  const errors: string[] = [];
  let messages: string[] = [];
  let source: string | undefined;
  const keep = (message: string, attributes?: Record<string, unknown>) => {
    messages.push(message);
    if (message === 'minted' && typeof attributes?.['source'] === 'string') source = attributes['source'];
  };
  return {
    errors,
    info: keep,
    warn: keep,
    error: (message, attributes) => {
      keep(message, attributes);
      errors.push(message);
    },
    takeMarks() {
      const taken = { messages, ...(source === undefined ? {} : { source }) };
      messages = [];
      source = undefined;
      return taken;
    },
  };
}

/** The parts every container has. */
export interface Container {
  kind: ContainerKind;
  name: string;
  offsetMs: number;
  now: () => number;
  ddb: ControlledDocumentClient;
  wix: ControlledWix;
  logger: MarkLogger;
}

export interface Containers {
  mint: Array<Container & { handler: ReturnType<typeof createMintHandler> }>;
  refresh: Array<Container & { handler: ReturnType<typeof createRefreshHandler> }>;
  install: Array<Container & { handler: ReturnType<typeof createInstallHandler> }>;
  webhooks: Array<Container & { handler: ReturnType<typeof createWebhooksHandler> }>;
}

/** One violation of an invariant; `kind` is stable (the soak counts by it). */
export class InvariantViolation extends Error {
  constructor(
    readonly kind: string,
    detail: string,
  ) {
    super(`${kind}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** Figures a soak prints. */
export interface Figures {
  runs: number;
  commands: Record<string, number>;
  faults: Record<string, number>;
  /** Noted but not violations: e.g. a rotated refresh token reported lost (an operator alarm). */
  notes: Record<string, number>;
  /** Real time spent per kind of step, ms. */
  stepMs: Record<string, number>;
}

export function emptyFigures(): Figures {
  return { runs: 0, commands: {}, faults: {}, notes: {}, stepMs: {} };
}

export function bump(counts: Record<string, number>, name: string, by = 1): void {
  counts[name] = (counts[name] ?? 0) + by;
}

/** What the file shares: the table, the simulator, the app. */
export interface Shared {
  table: TestTable;
  sim: WixSimulator;
  app: DemoAppSecret;
  figures: Figures;
  /** The clock of the run under way (the simulator reads it). */
  clock: ModelClock;
  /** Runs so far: each starts its clock 400 days after the previous one's base. */
  runIndex: number;
  close(): Promise<void>;
}

export async function openShared(): Promise<Shared> {
  const table = await createTestTable('model');
  const app = demoAppSecret(randomUUID());
  const shared: Shared = {
    table,
    app,
    figures: emptyFigures(),
    clock: new ModelClock(Date.UTC(2031, 0, 1)),
    runIndex: 0,
    sim: undefined as unknown as WixSimulator,
    async close() {
      await shared.sim.stop();
      await table.drop();
    },
  };
  shared.sim = await startWixSimulator({
    apps: [{ appId: app.appId, appSecret: app.appSecret }],
    rotateRefreshTokens: true,
    now: () => shared.clock.now(),
  });
  return shared;
}

/** One in-flight violation as the tracker saw it. */
interface Overlap {
  instanceId: string;
  holders: string[];
}

/** A run: fresh instances, fresh containers, a fresh clock. */
export interface World {
  shared: Shared;
  clock: ModelClock;
  keys: InstanceKey[];
  containers: Containers;
  /** Overlapping Wix calls seen since the last {@link World.takeOverlaps}. */
  takeOverlaps(): Overlap[];
  /** Reads an instance's record without faults; undefined when there is none. */
  read(key: InstanceKey): Promise<{ record: InstanceRecord; item: InstanceItem } | undefined>;
  /** Deletes the run's items. */
  cleanUp(): Promise<void>;
}

export interface Offsets {
  mint: number[];
  refresh: number[];
  install: number[];
  webhooks: number[];
}

export function openWorld(shared: Shared, offsets: Offsets, instances: number): World {
  shared.runIndex += 1;
  const clock = new ModelClock(Date.UTC(2031, 0, 1) + shared.runIndex * 400 * 86_400_000);
  shared.clock = clock;
  const { table, sim, app } = shared;
  const keys: InstanceKey[] = Array.from({ length: instances }, () => ({ appId: app.appId, instanceId: randomUUID() }));
  const secrets = memorySecrets([app]);
  const cipherFor = cipherSource(secrets);
  const faults = shared.figures.faults;

  const inFlight = new Map<string, Set<string>>();
  let overlaps: Overlap[] = [];
  const tracker: InFlightTracker = {
    instanceOf(body) {
      if (typeof body.instance_id === 'string') return body.instance_id;
      if (typeof body.refresh_token === 'string') return sim.describeToken(body.refresh_token)?.instanceId;
      return undefined;
    },
    start(instanceId, who) {
      const holders = inFlight.get(instanceId) ?? new Set<string>();
      holders.add(who);
      inFlight.set(instanceId, holders);
      if (holders.size > 1) overlaps.push({ instanceId, holders: [...holders] });
    },
    end(instanceId, who) {
      inFlight.get(instanceId)?.delete(who);
    },
  };

  const base = (kind: ContainerKind, index: number, offsetMs: number): Container => {
    const name = `${kind}${index}`;
    return {
      kind,
      name,
      offsetMs,
      now: () => clock.now() + offsetMs,
      ddb: controlledDocumentClient(table.documentClient, faults),
      wix: controlledWixFetch(name, tracker, faults),
      logger: markLogger(),
    };
  };
  const wixClientOf = (container: Container) =>
    createWixClient({ baseUrl: sim.url, fetch: container.wix.fetch, clock: { now: container.now, sleep: systemClock.sleep }, baseDelayMs: 5, maxDelayMs: 20 });
  const storeOf = (container: Container) =>
    createDynamoTokenStore({ documentClient: container.ddb, tableName: table.tableName, cipherFor, now: container.now, leaseTtlMs: LEASE_TTL_MS, sleep: systemClock.sleep });

  /** What every handler of a container is built on: its own store, clock and logger, the shared app and secrets. */
  const commonDeps = (container: Container) => ({
    appIds: [app.appId],
    store: storeOf(container),
    secrets,
    now: container.now,
    logger: container.logger,
    sleep: systemClock.sleep,
  });
  /** What the two lease-taking handlers add: a random jitter and a fresh lease owner per attempt. */
  const leaseDeps = { random: Math.random, newLeaseOwner: randomUUID };

  /** The containers of one kind, one per clock offset, each with the handler `make` builds on it. */
  const containersOf = <H>(kind: ContainerKind & keyof Offsets, make: (container: Container) => H): Array<Container & { handler: H }> =>
    offsets[kind].map((offset, index) => {
      const container = base(kind, index, offset);
      return { ...container, handler: make(container) };
    });

  const containers: Containers = {
    mint: containersOf('mint', (container) => {
      const wix = wixClientOf(container);
      return createMintHandler({
        ...commonDeps(container),
        ...leaseDeps,
        wix,
        elevation: createElevation({ wix, appIds: [app.appId], now: container.now, logger: container.logger }),
        cache: createTokenCache(),
        rejected: createRejectedTokens(),
        leaseWaitMs: LEASE_WAIT_MS,
        leasePollMs: 20,
      });
    }),
    refresh: containersOf('refresh', (container) =>
      createRefreshHandler({
        ...commonDeps(container),
        ...leaseDeps,
        wix: wixClientOf(container),
        metrics: recordMetrics(),
        concurrency: 4,
        // The lease is 2.5 s here (5 s in production): keep the production ratio of call time to write margin.
        writeMarginMs: 1000,
        minCallMs: 300,
      }),
    ),
    install: containersOf('install', (container) =>
      createInstallHandler({
        ...commonDeps(container),
        installerUrl: sim.url,
        publicUrl: 'http://localhost:3000',
        states: createDynamoInstallStateStore({ documentClient: container.ddb, tableName: table.tableName, now: container.now }),
        wix: wixClientOf(container),
      }),
    ),
    webhooks: containersOf('webhooks', (container) =>
      createWebhooksHandler({ appIds: [app.appId], secrets, store: storeOf(container), now: container.now, logger: container.logger }),
    ),
  };

  return {
    shared,
    clock,
    keys,
    containers,
    takeOverlaps() {
      const taken = overlaps;
      overlaps = [];
      return taken;
    },
    async read(key) {
      const output = await table.documentClient.send(new GetCommand({ TableName: table.tableName, Key: { pk: instancePk(key) }, ConsistentRead: true }));
      const item = output.Item as InstanceItem | undefined;
      if (item === undefined) return undefined;
      return { item, record: await recordFromItem(item, cipherFor) };
    },
    async cleanUp() {
      for (const key of keys) {
        await table.documentClient.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: instancePk(key) } }));
      }
    },
  };
}
