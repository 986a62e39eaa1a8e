import { randomUUID } from 'node:crypto';

import { demoAppSecret, type DemoAppSecret } from '../../infra/local/demo-app';
import { IssuedKind, recordIssued } from '../../infra/local/issued-values';
import {
  createMemoryInstallStateStore,
  createMemoryTokenStore,
  StoreUnavailableError,
  type InstanceKey,
  type MemoryTokenStore,
  type TokenStore,
} from '../../lib/store';
import {
  WixBadRequestError,
  WixCredentialsRejectedError,
  WixErrorKind,
  WixGrantInvalidError,
  WixUnavailableError,
  type AccessToken,
  type LegacyTokens,
  type TokenInfo,
  type WixClient,
  type WixOAuthError,
  type WixOperation,
} from '../../lib/wix';
import type { RefreshDeps } from '../../lib/tokens/refresh';
import { createFakeClock, type FakeClock } from './fake-clock';
import { storeUnderLease } from './leases';
import { memorySecrets } from './secrets';
import { captureLogger, type CapturedLogger } from './mint-fixture';
import { testCipherFor } from './token-cipher';

/**
 * A world for unit tests of the use cases: the in-memory token and install-state stores on a
 * fake clock, a scriptable fake Wix client, served apps' secrets and a captured logger.
 *
 * The clock moves only when something sleeps (`sleep` advances it) or a test advances it, so
 * leases, deadlines and backoffs are judged without any real wait.
 */

/** One call that reached the fake Wix. */
export interface WixCall {
  operation: WixOperation;
  appId?: string;
  instanceId?: string;
  /** The refresh token sent (refresh_token grant). */
  refreshToken?: string;
  /** The code sent (authorization_code grant). */
  code?: string;
  /** The access token asked about (Token Info). */
  token?: string;
  /** The call's deadline, when one was given. */
  deadline?: number;
}

type Answer<T> = (call: WixCall) => T | Promise<T>;

/** A call held "at Wix": `arrived` resolves when it gets there, `release()` lets Wix answer. */
export interface HeldCall {
  arrived: Promise<WixCall>;
  release(): void;
}

export interface FakeWix extends Pick<WixClient, 'createAccessToken' | 'refreshAccessToken' | 'exchangeCode' | 'getTokenInfo'> {
  /** Every call, in the order it reached Wix. */
  readonly calls: WixCall[];
  /** The answers used when nothing is queued; replace them to change Wix's behaviour for good. */
  answers: {
    client_credentials: Answer<AccessToken>;
    refresh_token: Answer<LegacyTokens>;
    authorization_code: Answer<LegacyTokens>;
    token_info: Answer<TokenInfo>;
  };
  /** Queues a one-off answer for the next call of `operation`. */
  once<O extends WixOperation>(operation: O, answer: FakeWix['answers'][O]): void;
  /** Holds the next call of `operation` at Wix until released: code runs "while the call is at Wix". */
  hold(operation: WixOperation): HeldCall;
  /** Calls of `operation` (optionally for one instance). */
  count(operation: WixOperation, instanceId?: string): number;
  /** Each answered call moves the clock on by this much (Wix's latency). */
  latencyMs: number;
}

/** A Wix error of each kind, as lib/wix throws them. */
export function wixError(kind: WixErrorKind, operation: WixOperation = 'client_credentials'): WixOAuthError {
  const details = { operation, requestId: `req-${kind}` };
  switch (kind) {
    case WixErrorKind.Transient:
      return new WixUnavailableError('WIX_UNAVAILABLE', 'Wix answered 503', { ...details, status: 503 });
    case WixErrorKind.GrantInvalid:
      return new WixGrantInvalidError('invalid_grant', { ...details, status: 400, error: 'invalid_grant' });
    case WixErrorKind.CredentialsRejected:
      return new WixCredentialsRejectedError('invalid_client', { ...details, status: 401, error: 'invalid_client' });
    case WixErrorKind.BadRequest:
      return new WixBadRequestError('invalid_request', { ...details, status: 400, error: 'invalid_request' });
  }
}

/** A fresh opaque value, recorded for the log audit so any log line that prints it fails the test. */
export function issued(kind: (typeof IssuedKind)[keyof typeof IssuedKind], prefix: string): string {
  const value = `${prefix}.${randomUUID()}`;
  recordIssued(kind, value);
  return value;
}

export function createFakeWix(clock: Pick<FakeClock, 'now' | 'advance'>): FakeWix {
  const calls: WixCall[] = [];
  const queued = new Map<WixOperation, Answer<unknown>[]>();
  const held = new Map<WixOperation, Array<{ arrive: (call: WixCall) => void; released: Promise<void> }>>();

  const wix: FakeWix = {
    calls,
    latencyMs: 0,
    answers: {
      client_credentials: () => ({ accessToken: issued(IssuedKind.AccessToken, 'cc'), tokenType: 'Bearer', expiresAt: clock.now() + 4 * 3_600_000 }),
      refresh_token: (call) => ({
        accessToken: issued(IssuedKind.AccessToken, 'legacy'),
        refreshToken: call.refreshToken as string,
        expiresAt: clock.now() + 300_000,
      }),
      authorization_code: () => ({
        accessToken: issued(IssuedKind.AccessToken, 'OauthNG.JWS'),
        refreshToken: issued(IssuedKind.RefreshToken, 'rt'),
        expiresAt: clock.now() + 300_000,
      }),
      token_info: () => ({ active: true }),
    },
    once(operation, answer) {
      const list = queued.get(operation) ?? [];
      list.push(answer as Answer<unknown>);
      queued.set(operation, list);
    },
    hold(operation) {
      let arrive!: (call: WixCall) => void;
      let release!: () => void;
      const arrived = new Promise<WixCall>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      const list = held.get(operation) ?? [];
      list.push({ arrive, released });
      held.set(operation, list);
      return { arrived, release };
    },
    count(operation, instanceId) {
      return calls.filter((call) => call.operation === operation && (instanceId === undefined || call.instanceId === instanceId)).length;
    },
    createAccessToken: (app, instanceId, options) => answer('client_credentials', { appId: app.appId, instanceId, ...deadlineOf(options) }),
    refreshAccessToken: (app, refreshToken, options) => answer('refresh_token', { appId: app.appId, refreshToken, ...deadlineOf(options) }),
    exchangeCode: (app, code, options) => answer('authorization_code', { appId: app.appId, code, ...deadlineOf(options) }),
    getTokenInfo: (token, options) => answer('token_info', { token, ...deadlineOf(options) }),
  };

  async function answer<O extends WixOperation>(operation: O, fields: Omit<WixCall, 'operation'>): Promise<Awaited<ReturnType<FakeWix['answers'][O]>>> {
    const call: WixCall = { operation, ...fields };
    calls.push(call);
    const hold = held.get(operation)?.shift();
    if (hold !== undefined) {
      hold.arrive(call);
      await hold.released;
    }
    clock.advance(wix.latencyMs);
    const next = (queued.get(operation)?.shift() ?? wix.answers[operation]) as Answer<Awaited<ReturnType<FakeWix['answers'][O]>>>;
    return next(call);
  }

  return wix;
}

function deadlineOf(options: { deadline?: number } | undefined): { deadline?: number } {
  return options?.deadline === undefined ? {} : { deadline: options.deadline };
}

export interface MemoryWorld {
  clock: FakeClock;
  /** Resolves at the next sleep (a waiter's poll, a retry's backoff), with its length. */
  nextSleep(): Promise<number>;
  /** Advances the fake clock, then yields a turn so other callers move on. */
  sleep(ms: number): Promise<void>;
  store: MemoryTokenStore;
  states: ReturnType<typeof createMemoryInstallStateStore>;
  wix: FakeWix;
  app: DemoAppSecret;
  secrets: ReturnType<typeof memorySecrets>;
  logger: CapturedLogger;
  /** A fresh instance key of the world's app (or of `appId`). */
  newKey(appId?: string): InstanceKey;
}

/** Demo apps are costly to make (an RSA key pair each): one per test file is plenty. */
export function createMemoryWorld(options: { apps?: DemoAppSecret[]; shards?: number; start?: number } = {}): MemoryWorld {
  const apps = options.apps ?? [demoAppSecret(randomUUID())];
  const clock = createFakeClock(options.start);
  const sleepers: Array<(ms: number) => void> = [];
  const sleep = async (ms: number) => {
    clock.sleeps.push(ms);
    clock.advance(ms);
    for (const wake of sleepers.splice(0)) wake(ms);
    // A turn of the event loop: whatever the test started meanwhile gets to run.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const store = createMemoryTokenStore({
    cipherFor: testCipherFor(),
    now: clock.now,
    sleep,
    ...(options.shards === undefined ? {} : { shards: options.shards }),
  });
  const app = apps[0] as DemoAppSecret;
  return {
    clock,
    nextSleep: () => new Promise<number>((resolve) => sleepers.push(resolve)),
    sleep,
    store,
    states: createMemoryInstallStateStore({ now: clock.now }),
    wix: createFakeWix(clock),
    app,
    secrets: memorySecrets(apps),
    logger: captureLogger(),
    newKey: (appId = app.appId) => ({ appId, instanceId: randomUUID() }),
  };
}

/** The store's method calls, by name, in order, on top of `store`. */
export function recordingStore<S extends object>(store: S, calls: string[]): S {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Every store call first moves the clock on by `ms` (DynamoDB's latency). */
export function slowStore<S extends object>(store: S, clock: Pick<FakeClock, 'advance'>, ms: number): S {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || property === 'items') return value;
      return (...args: unknown[]) => {
        clock.advance(ms);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export const storeOutage = (operation: string) => new StoreUnavailableError('ThrottlingException', operation, new Error('slow down'));

/** `store` with each of `operations` failing as an outage (a StoreUnavailableError naming it), the others as they are. */
export function withOutage<S extends object>(store: S, ...operations: Array<keyof S & string>): S {
  const failing = (operation: string) => async () => {
    throw storeOutage(operation);
  };
  return { ...store, ...Object.fromEntries(operations.map((operation) => [operation, failing(operation)])) };
}

/**
 * Seeds an active client-credentials instance (AppInstalled at `installedAt`) holding `accessToken`
 * (expiring at `expiresAt`), due at `dueAt` (or out of the index with null).
 */
export async function seedClientCredentials(
  store: TokenStore,
  key: InstanceKey,
  seed: { installedAt: number; accessToken: string; expiresAt: number; dueAt: number | null },
): Promise<void> {
  await store.recordAppInstalled(key, { eventAt: seed.installedAt });
  await storeUnderLease(store, key, 'seed', { accessToken: seed.accessToken, accessTokenExpiresAt: seed.expiresAt, refreshDueAt: seed.dueAt });
}

/** Seeds a legacy instance as the install callback stores it. */
export async function seedLegacy(
  store: TokenStore,
  key: InstanceKey,
  seed: { installedAt: number; refreshToken: string; accessToken: string; expiresAt: number; dueAt: number | null },
): Promise<void> {
  await store.storeInstallTokens(key, {
    refreshToken: seed.refreshToken,
    accessToken: seed.accessToken,
    accessTokenExpiresAt: seed.expiresAt,
    installedAt: seed.installedAt,
    refreshDueAt: seed.dueAt,
  });
}

/** Kept for the tests that import it from here; it lives in ./failures. */
export { rejectionOf } from './failures';

/** The refresh use case's deps on a world: its store, Wix, secrets, clock and logger. */
export function refresher(world: MemoryWorld, overrides: Partial<RefreshDeps> = {}): RefreshDeps {
  return {
    store: world.store,
    wix: world.wix,
    secrets: world.secrets,
    now: world.clock.now,
    random: () => 0.5,
    newLeaseOwner: randomUUID,
    logger: world.logger,
    sleep: world.sleep,
    ...overrides,
  };
}
