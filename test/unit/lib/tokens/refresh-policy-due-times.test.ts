import { randomUUID } from 'node:crypto';

import { GrantKind } from '../../../../lib/store';
import {
  CLIENT_CREDENTIALS_HOT_WINDOW_MS,
  CLIENT_CREDENTIALS_LEAD_MS,
  CLIENT_CREDENTIALS_SPREAD_MS,
  clientCredentialsDueAt,
  failurePlan,
  isHot,
  LEGACY_HEALTH_INTERVAL_MS,
  LEGACY_HEALTH_SPREAD_MS,
  LEGACY_HOT_WINDOW_MS,
  legacyHealthDueAt,
  MIN_RESCHEDULE_MS,
  nextRefreshDueAt,
  retryDelayMs,
  spreadMs,
} from '../../../../lib/tokens/refresh-policy';
import { WixErrorKind } from '../../../../lib/wix';

const NOW = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;
const key = () => ({ appId: randomUUID(), instanceId: randomUUID() });

describe('spreadMs', () => {
  it('gives one instance the same offset every time', () => {
    const instance = key();

    expect(spreadMs(instance, 600_000)).toBe(spreadMs({ ...instance }, 600_000));
  });

  it('spreads a fleet evenly over the window', () => {
    const offsets = Array.from({ length: 4000 }, () => spreadMs(key(), 600_000));
    const tenths = Array.from({ length: 10 }, (_, i) => offsets.filter((o) => o >= i * 60_000 && o < (i + 1) * 60_000).length);

    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...offsets)).toBeLessThan(600_000);
    for (const count of tenths) expect(count).toBeGreaterThan(300);
  });
});

describe('due times per kind', () => {
  it('renews client credentials 15 min before expiry, moved earlier by the instance spread', () => {
    const instance = key();

    const due = clientCredentialsDueAt(NOW + 4 * HOUR, instance);

    expect(clientCredentialsDueAt(NOW + 4 * HOUR)).toBe(NOW + 4 * HOUR - CLIENT_CREDENTIALS_LEAD_MS);
    expect(due).toBe(NOW + 4 * HOUR - CLIENT_CREDENTIALS_LEAD_MS - spreadMs(instance, CLIENT_CREDENTIALS_SPREAD_MS));
  });

  it('runs the legacy health pass once a day, less the instance spread', () => {
    const due = legacyHealthDueAt(NOW, key());

    expect(due).toBeLessThanOrEqual(NOW + LEGACY_HEALTH_INTERVAL_MS);
    expect(due).toBeGreaterThan(NOW + LEGACY_HEALTH_INTERVAL_MS - LEGACY_HEALTH_SPREAD_MS);
  });

  const record = (overrides: Partial<Parameters<typeof nextRefreshDueAt>[0]> = {}) => ({
    ...key(),
    grantKind: GrantKind.ClientCredentials,
    createdAt: NOW - 100 * HOUR,
    lastUsedAt: NOW - HOUR,
    ...overrides,
  });

  it('schedules a client-credentials instance by its new token', () => {
    const instance = record();

    const due = nextRefreshDueAt(instance, { grant: 'client_credentials', grantKind: GrantKind.ClientCredentials, expiresAt: NOW + 4 * HOUR }, NOW);

    expect(due).toBe(clientCredentialsDueAt(NOW + 4 * HOUR, instance));
  });

  it('schedules a legacy instance a day after its health pass', () => {
    const instance = record({ grantKind: GrantKind.Legacy });

    const due = nextRefreshDueAt(instance, { grant: 'refresh_token', grantKind: GrantKind.Legacy, expiresAt: NOW + 300_000 }, NOW);

    expect(due).toBe(legacyHealthDueAt(NOW, instance));
  });

  it('keeps the health schedule of a legacy instance when a mint used client credentials', () => {
    const instance = record({ grantKind: GrantKind.Legacy, refreshDueAt: NOW + 7 * HOUR });

    const due = nextRefreshDueAt(instance, { grant: 'client_credentials', grantKind: GrantKind.Legacy, expiresAt: NOW + 4 * HOUR }, NOW);

    expect(due).toBe(NOW + 7 * HOUR);
  });

  it('starts a health schedule for a legacy instance that had none', () => {
    const instance = record({ grantKind: GrantKind.Legacy });

    const due = nextRefreshDueAt(instance, { grant: 'client_credentials', grantKind: GrantKind.Legacy, expiresAt: NOW + 4 * HOUR }, NOW);

    expect(due).toBe(legacyHealthDueAt(NOW, instance));
  });

  it('schedules a legacy instance that fell back as a client-credentials one', () => {
    const instance = record({ grantKind: GrantKind.Legacy, refreshDueAt: NOW + 7 * HOUR });

    const due = nextRefreshDueAt(instance, { grant: 'client_credentials', grantKind: GrantKind.ClientCredentials, expiresAt: NOW + 4 * HOUR }, NOW);

    expect(due).toBe(clientCredentialsDueAt(NOW + 4 * HOUR, instance));
  });

  it.each([
    ['a five-minute token (no expires_in)', 300_000],
    ['a token already expired', -60_000],
  ])('never schedules %s earlier than a minute from now, so the sweep that wrote it cannot list it again', (_, lifetimeMs) => {
    const instance = record();

    const due = nextRefreshDueAt(instance, { grant: 'client_credentials', grantKind: GrantKind.ClientCredentials, expiresAt: NOW + lifetimeMs }, NOW);

    expect(due).toBe(NOW + MIN_RESCHEDULE_MS);
  });

  it('keeps an overdue health schedule as it is when a mint serves a legacy instance', () => {
    const instance = record({ grantKind: GrantKind.Legacy, refreshDueAt: NOW - HOUR });

    const due = nextRefreshDueAt(instance, { grant: 'client_credentials', grantKind: GrantKind.Legacy, expiresAt: NOW + 4 * HOUR }, NOW);

    expect(due).toBe(NOW - HOUR);
  });

  it('takes a dormant instance out of the index', () => {
    const instance = record({ lastUsedAt: NOW - 2 * CLIENT_CREDENTIALS_HOT_WINDOW_MS });

    const due = nextRefreshDueAt(instance, { grant: 'client_credentials', grantKind: GrantKind.ClientCredentials, expiresAt: NOW + 4 * HOUR }, NOW);

    expect(due).toBeNull();
  });
});

describe('isHot', () => {
  it.each([
    ['client credentials used an hour ago', GrantKind.ClientCredentials, { lastUsedAt: NOW - HOUR }, true],
    ['client credentials used 25 h ago', GrantKind.ClientCredentials, { lastUsedAt: NOW - 25 * HOUR }, false],
    ['client credentials never used, installed an hour ago', GrantKind.ClientCredentials, { lastEventAt: NOW - HOUR }, true],
    ['client credentials never used, created 2 days ago', GrantKind.ClientCredentials, {}, false],
    ['legacy used 10 days ago', GrantKind.Legacy, { lastUsedAt: NOW - 240 * HOUR }, true],
    ['legacy used 31 days ago', GrantKind.Legacy, { lastUsedAt: NOW - LEGACY_HOT_WINDOW_MS - HOUR, createdAt: NOW - 2 * LEGACY_HOT_WINDOW_MS }, false],
  ])('decides whether %s is hot', (_, grantKind, times, expected) => {
    expect(isHot({ grantKind, createdAt: NOW - 48 * HOUR, ...times }, NOW)).toBe(expected);
  });
});

describe('failurePlan', () => {
  it('backs a transient failure off by the retry delay', () => {
    const plan = failurePlan(WixErrorKind.Transient, 3, NOW, () => 0.5);

    expect(plan).toEqual({ record: true, retryAt: NOW + retryDelayMs(3, () => 0.5), needsReauth: false });
  });

  it('marks a refusal needs_reauth and out of the index', () => {
    expect(failurePlan(WixErrorKind.GrantInvalid, 1, NOW, Math.random)).toEqual({ record: true, retryAt: null, needsReauth: true });
  });

  it.each([WixErrorKind.CredentialsRejected, WixErrorKind.BadRequest])('leaves the instance alone on %s', (kind) => {
    expect(failurePlan(kind, 1, NOW, Math.random)).toEqual({ record: false });
  });
});
