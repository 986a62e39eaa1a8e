import { randomUUID } from 'node:crypto';

import { ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';

import { demoAppSecret, type DemoAppSecret } from '../../infra/local/demo-app';
import { issuedValues } from '../../infra/local/issued-values';
import { startWixSimulator, type WixSimulator } from '../../infra/local/wix-simulator';
import { htmlPage, type HttpResult } from '../../lib/http';
import type { InstanceKey, TokenStore } from '../../lib/store';
import { createWixClient } from '../../lib/wix';
import { createTestTable, type TestTable } from './dynamodb-table';
import { requestContext } from './http-fixture';
import { seedClientCredentials, seedLegacy, storeMaker } from './refresh-fixture';

/**
 * What the fuzz suites (test/integration/fuzz, issue 8) share: a table with a few installed
 * instances to keep unchanged, the oracle every answer must pass, and arbitraries for the odd
 * pieces of an event.
 */

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A table holding a legacy, a client-credentials and a removed instance, and the simulator that issued their tokens. */
export interface FuzzWorld {
  table: TestTable;
  sim: WixSimulator;
  app: DemoAppSecret;
  store: TokenStore;
  keys: { legacy: InstanceKey; clientCredentials: InstanceKey; removed: InstanceKey };
  /** The whole table, every attribute of every item, in a stable order. */
  snapshot(): Promise<string>;
  stop(): Promise<void>;
}

export async function createFuzzWorld(prefix: string): Promise<FuzzWorld> {
  const table = await createTestTable(prefix);
  const app = demoAppSecret(randomUUID());
  const sim = await startWixSimulator({ apps: [{ appId: app.appId, appSecret: app.appSecret }] });
  const makeStore = storeMaker(table.documentClient, table.tableName, app);
  const store = makeStore();
  const now = Date.now();
  const legacy = await seedLegacy(sim, createWixClient({ baseUrl: sim.url }), makeStore, app, { dueAt: now + 3_600_000, lastUsedAt: now });
  const clientCredentials = await seedClientCredentials(sim, makeStore, app, { dueAt: now + 3_600_000, lastUsedAt: now });
  const removed = { appId: app.appId, instanceId: randomUUID() };
  await store.recordAppInstalled(removed, { eventAt: now - 60_000 });
  await store.recordAppRemoved(removed, { eventAt: now - 30_000 });
  return {
    table,
    sim,
    app,
    store,
    keys: { legacy: { appId: legacy.appId, instanceId: legacy.instanceId }, clientCredentials, removed },
    snapshot: () => scanAll(table),
    stop: async () => {
      await sim.stop();
      await table.drop();
    },
  };
}

async function scanAll(table: TestTable): Promise<string> {
  const items: NonNullable<ScanCommandOutput['Items']> = [];
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await table.client.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  items.sort((a, b) => String(a.pk?.S).localeCompare(String(b.pk?.S)));
  return JSON.stringify(items);
}

// --- the oracle -----------------------------------------------------------------------------

/** A stack frame, an error class name or a source position: none belongs in an answer. */
const STACK_TRACE = /\n\s+at\s|\bat\s+\S+\s+\(|\.[jt]s:\d+|\b(?:Type|Reference|Syntax|Range|URI)Error\b|\[object Object\]/;

const FIELD = [
  'code',
  'state',
  'instanceId',
  'appId',
  'token',
  'body',
  'iat',
  'data',
  'claims',
  'payload',
  'minValiditySeconds',
  'data\\.eventType',
  'data\\.data',
  'data\\.instanceId',
  'data\\.data\\.appId',
  'data\\.data\\.originInstanceId',
  // An unknown payload key is named only when it looks like a field name (lib/tokens/mint-request).
  '[A-Za-z][A-Za-z0-9_]{0,39}',
].join('|');
const REASON = [
  'is missing',
  'is too long',
  'is too large',
  'is empty',
  'must be a GUID',
  'is given more than once',
  'is required: this deployment serves several apps',
  'is not an app this deployment serves',
  'does not match the installation code',
  'is missing or invalid',
  'is not a signed JWT',
  'must be a JSON string',
  'is not valid JSON',
  'is not a JSON object',
  'must be a JSON object',
  'is not a known field',
  'must be an integer from 0 to 3600',
  'is not the app whose key signed the webhook',
].join('|');

/** Every message an InvalidRequestError can carry: fixed field names and reasons, no request value. */
export const INVALID_REQUEST_MESSAGE = new RegExp(`^(?:${FIELD}) (?:${REASON})$`);

/** The fixed texts of 4xx answers (lib/http/errors); a 4xx page or JSON body says one of these. */
const FIXED_MESSAGES = new Set([
  'There is no page here.',
  'This app is not served here.',
  'The installation request has no state. Please start the installation again from Wix.',
  'The installation request could not be verified. Please start the installation again from Wix.',
  'The installation request has expired. Please start the installation again from Wix.',
  'This installation request was already used. If the app is not installed yet, start the installation again from Wix.',
  'Wix did not accept this installation. Please start the installation again from Wix.',
  'The app was removed from this site after the installation was approved. Install it again to use it.',
]);
const WEBHOOK_REFUSED = /^The webhook JWT was refused: (algorithm not allowed|bad signature|expired|issued in the future|unsupported)$/;
const TITLES = new Set(['Not found', 'Bad request', 'Installation refused', 'Unauthorized', 'Installation superseded']);

/** True when `message` is one of the fixed 4xx texts. */
export function isFixedMessage(message: string): boolean {
  if (FIXED_MESSAGES.has(message) || WEBHOOK_REFUSED.test(message)) return true;
  const invalid = /^The request is not valid: (.*)\.$/.exec(message);
  return invalid !== null && INVALID_REQUEST_MESSAGE.test(invalid[1] as string);
}

/** Fails when any value issued during the run (tokens, codes, states, secrets), or one of `extra`, is in `text`. */
export function expectNoIssuedValue(text: string, extra: readonly string[] = []): void {
  for (const [value, kind] of issuedValues()) {
    if (text.includes(value)) throw new Error(`an issued ${kind} appears in an answer`);
  }
  for (const value of extra) {
    if (value.length >= 12 && text.includes(value)) throw new Error('a secret appears in an answer');
  }
}

/**
 * The oracle for an HTTP answer to a malformed event: a 4xx (the caller's fault, never ours) whose
 * body is exactly one of our fixed pages or JSON errors with the reference id we passed: so no
 * stack trace, no echo of the request, no issued value.
 */
export function expectRefusal(answer: HttpResult, options: { format: 'html' | 'json'; referenceId: string }): void {
  if (typeof answer?.statusCode !== 'number' || answer.statusCode < 400 || answer.statusCode > 499) {
    throw new Error(`expected a 4xx, got ${String(answer?.statusCode)}`);
  }
  if (answer.headers['Location'] !== undefined) throw new Error('a refusal carries a Location');
  if (answer.headers['Cache-Control'] !== 'no-store') throw new Error('a refusal is cacheable');
  if (STACK_TRACE.test(answer.body)) throw new Error('the body carries a stack trace or an error name');
  expectNoIssuedValue(JSON.stringify(answer));

  if (options.format === 'html') {
    const page = /<title>([^<]*)<\/title>.*<p class="message">([^<]*)<\/p>/.exec(answer.body);
    const title = unescapeHtml(page?.[1] ?? '');
    const message = unescapeHtml(page?.[2] ?? '');
    if (!TITLES.has(title)) throw new Error(`unexpected page title ${JSON.stringify(title)}`);
    if (!isFixedMessage(message)) throw new Error(`unexpected page message ${JSON.stringify(message)}`);
    const expected = htmlPage({ status: answer.statusCode, title, message, referenceId: options.referenceId });
    if (answer.body !== expected.body) throw new Error('the page is not exactly one of ours');
    return;
  }
  const json = JSON.parse(answer.body) as Record<string, unknown>;
  if (Object.keys(json).sort().join(',') !== 'error,message,referenceId') throw new Error(`unexpected JSON fields ${Object.keys(json).join(',')}`);
  if (typeof json['error'] !== 'string' || !/^[A-Z_]+$/.test(json['error'])) throw new Error('unexpected error code');
  if (typeof json['message'] !== 'string' || !isFixedMessage(json['message'])) throw new Error(`unexpected message ${JSON.stringify(json['message'])}`);
  if (json['referenceId'] !== options.referenceId) throw new Error('unexpected reference id');
}

function unescapeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_match, entity: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[entity] as string);
}

// --- arbitraries ------------------------------------------------------------------------------

/** Strings that have broken parsers before: encodings, separators, markup, control and bidi characters. */
const NASTY = [
  '',
  ' ',
  '%',
  '%%',
  '%zz',
  '%C0%AF',
  '%FF%FE',
  '%E2%82',
  '%00',
  '%2500',
  '+',
  '&',
  '=',
  '==',
  '#',
  '?',
  ';',
  ',',
  '..%2F..%2Fetc%2Fpasswd',
  '\u0000',
  '\r\n',
  '\uFEFF',
  '\u202E',
  '\uD800',
  '\uDFFF',
  '𝕏',
  '٣',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' OR 1=1 --",
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  'null',
  'undefined',
  'NaN',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'toString',
];

/** Almost-GUIDs: right shape with one thing wrong, or right value dressed wrongly. */
export const nearGuid: fc.Arbitrary<string> = fc.oneof(
  fc.uuid().map((id) => ` ${id}`),
  fc.uuid().map((id) => `${id}\n`),
  fc.uuid().map((id) => `{${id}}`),
  fc.uuid().map((id) => `urn:uuid:${id}`),
  fc.uuid().map((id) => id.replace(/-/g, '')),
  fc.uuid().map((id) => id.slice(1)),
  fc.uuid().map((id) => `${id}0`),
  fc.uuid().map((id) => id.replace(/[0-9]/, '٣')),
  fc.uuid().map((id) => id.replace(/[0-9a-f]/, 'g')),
  fc.uuid().map((id) => id.replace(/-/, '\u2010')),
  fc.uuid().map((id) => id.replace(/[0-9]/, (digit) => String.fromCharCode(0xff10 + Number(digit)))),
);

/** Any string a query value or payload field might hold, oversized ones included. */
export function oddString(extra: readonly string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 48 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
    { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
    { weight: 2, arbitrary: nearGuid },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.uuid().map((id) => id.toUpperCase()) },
    { weight: 1, arbitrary: fc.integer({ min: 4000, max: 70_000 }).chain((length) => fc.constantFrom('x', '%41', 'é', '\uD83D\uDE00').map((unit) => unit.repeat(Math.ceil(length / unit.length)))) },
    ...(extra.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...extra) }] : []),
  );
}

/** A query value encoded the ways browsers and attackers do: percent-encoded, raw, byte by byte, or with `+` for spaces. */
export function encodeQueryPart(text: string, how: 'component' | 'raw' | 'bytes' | 'plus'): string {
  switch (how) {
    case 'raw':
      return text;
    case 'bytes':
      return [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0').toUpperCase()}`).join('');
    case 'plus':
      return safeComponent(text).replace(/%20/g, '+');
    default:
      return safeComponent(text);
  }
}

function safeComponent(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // A lone surrogate: encodeURIComponent refuses it, so a client would send something else.
    return encodeURIComponent(text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
  }
}

/** A raw query string from name/value pairs: repeats, empty names, pairs without `=`, odd separators. */
export function queryString(pairs: fc.Arbitrary<[string, string]>, maxPairs = 6): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.array(fc.tuple(pairs, fc.constantFrom('component', 'raw', 'bytes', 'plus') as fc.Arbitrary<'component' | 'raw' | 'bytes' | 'plus'>, fc.boolean()), { maxLength: maxPairs }),
      fc.constantFrom('&', '&', '&', '&&', ';', '&amp;'),
    )
    .map(([parts, separator]) =>
      parts.map(([[name, value], how, withEquals]) => (withEquals || value !== '' ? `${encodeQueryPart(name, how)}=${encodeQueryPart(value, how)}` : encodeQueryPart(name, how))).join(separator),
    );
}

/** What an HTTP fuzz case varies besides the query: the event's shape as API Gateway (or a bug) might deliver it. */
export interface EventShape {
  routeKey: 'exact' | 'default' | 'missing';
  queryParameters: 'derived' | 'missing' | 'stale' | 'undefined-values';
  rawQuery: 'present' | 'missing' | 'empty';
  headers: 'normal' | 'missing' | 'odd';
  requestContext: 'full' | 'missing' | 'no-http';
  body: 'none' | 'null' | 'text' | 'base64';
}

export const eventShape: fc.Arbitrary<EventShape> = fc.record({
  routeKey: fc.constantFrom('exact', 'exact', 'default', 'missing'),
  queryParameters: fc.constantFrom('derived', 'derived', 'missing', 'stale', 'undefined-values'),
  rawQuery: fc.constantFrom('present', 'present', 'present', 'missing', 'empty'),
  headers: fc.constantFrom('normal', 'missing', 'odd'),
  requestContext: fc.constantFrom('full', 'full', 'missing', 'no-http'),
  body: fc.constantFrom('none', 'none', 'null', 'text', 'base64'),
});

/**
 * An HTTP API (payload v2) event for `method path?rawQuery`, bent into `shape`. When the raw
 * query is missing or empty, the handler falls back on `queryStringParameters`, which is then
 * derived from the same query (as API Gateway does: repeats joined with commas).
 */
export function apiEvent(method: string, path: string, rawQuery: string, shape: EventShape, body = ''): APIGatewayProxyEventV2 {
  const parsed = new URLSearchParams(rawQuery);
  const derived: Record<string, string> = {};
  for (const name of new Set(parsed.keys())) derived[name] = parsed.getAll(name).join(',');
  const queryStringParameters: Record<string, string | undefined> | undefined =
    shape.queryParameters === 'missing'
      ? undefined
      : shape.queryParameters === 'stale'
        ? { code: 'stale-code', state: 'stale-state', instanceId: randomUUID() }
        : shape.queryParameters === 'undefined-values'
          ? Object.fromEntries(Object.keys(derived).map((name) => [name, undefined]))
          : derived;
  const headers: Record<string, string> | undefined =
    shape.headers === 'missing' ? undefined : shape.headers === 'odd' ? { 'X-Forwarded-For': '\u0000', 'content-type': 'application/x-www-form-urlencoded; charset=utf-7', cookie: '=;;=' } : { host: 'localhost:3000' };
  const event: Record<string, unknown> = {
    version: '2.0',
    rawPath: path,
    headers,
    isBase64Encoded: shape.body === 'base64',
  };
  if (shape.routeKey === 'exact') event['routeKey'] = `${method} ${path}`;
  if (shape.routeKey === 'default') event['routeKey'] = '$default';
  if (shape.rawQuery === 'present') event['rawQueryString'] = rawQuery;
  if (shape.rawQuery === 'empty') event['rawQueryString'] = '';
  if (queryStringParameters !== undefined) event['queryStringParameters'] = queryStringParameters;
  if (shape.requestContext === 'full') {
    event['requestContext'] = requestContext(method, path, 'fuzz');
  } else if (shape.requestContext === 'no-http') {
    event['requestContext'] = { requestId: randomUUID() };
  }
  if (shape.body === 'null') event['body'] = null;
  if (shape.body === 'text') event['body'] = body;
  if (shape.body === 'base64') event['body'] = Buffer.from(body).toString('base64');
  // When API Gateway has no route key it matched, the handler falls back on method and path.
  if (shape.routeKey !== 'exact' && shape.requestContext !== 'full') event['rawPath'] = path;
  return event as unknown as APIGatewayProxyEventV2;
}

/** True when the route the handler will see is `method path` (see lib/http routeOf). */
export function routeSeen(event: APIGatewayProxyEventV2): string {
  if (event.routeKey && event.routeKey !== '$default') return event.routeKey;
  return `${event.requestContext?.http?.method ?? 'GET'} ${event.rawPath ?? '/'}`;
}

/** Counts what each handler was fed and how it answered, printed as the suite's figures. */
export function fuzzFigures(): {
  count(handler: string, outcome?: string | number): void;
  print(title: string): void;
  totals: Record<string, number>;
} {
  const totals: Record<string, number> = {};
  const outcomes: Record<string, Record<string, number>> = {};
  return {
    totals,
    count(handler, outcome) {
      totals[handler] = (totals[handler] ?? 0) + 1;
      if (outcome === undefined) return;
      const byOutcome = (outcomes[handler] ??= {});
      byOutcome[String(outcome)] = (byOutcome[String(outcome)] ?? 0) + 1;
    },
    print(title) {
      const lines = Object.entries(totals).map(([handler, events]) => {
        const answered = Object.entries(outcomes[handler] ?? {})
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([outcome, count]) => `${outcome} ×${count}`)
          .join(', ');
        return `  ${handler.padEnd(40)} ${String(events).padStart(5)} events${answered === '' ? '' : `  (${answered})`}`;
      });
      console.log(`${title}\n${lines.join('\n')}`);
    },
  };
}
