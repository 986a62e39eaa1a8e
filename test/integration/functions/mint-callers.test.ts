import { randomUUID } from 'node:crypto';

import { demoAppSecret, type DemoAppSecret } from '../../../infra/local/demo-app';
import { startWixSimulator, type WixSimulator, wixFaults } from '../../../infra/local/wix-simulator';
import { createTestTable, type TestTable } from '../../support/dynamodb-table';
import { rejectionOf } from '../../support/memory-world';
import { captureLogger, lambdaContext, mintContainer, type CapturedLogger } from '../../support/mint-fixture';

/** Issue 13: what callers need beyond a token — rejected tokens and verified elevation. */

let table: TestTable;
let sim: WixSimulator;
let app: DemoAppSecret;
let logger: CapturedLogger;
const foreignAppId = randomUUID();

function container() {
  return mintContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger });
}

async function installed(): Promise<string> {
  const instanceId = sim.install(app.appId);
  await container().store.recordAppInstalled({ appId: app.appId, instanceId }, { eventAt: Date.now() });
  return instanceId;
}

const refusal = (promise: Promise<unknown>) => rejectionOf(promise) as Promise<Error & { code?: string; field?: string }>;

beforeAll(async () => {
  table = await createTestTable('mint-callers');
  app = demoAppSecret(randomUUID());
  sim = await startWixSimulator({
    apps: [
      { appId: app.appId, appSecret: app.appSecret },
      { appId: foreignAppId, appSecret: 'foreign-secret' },
    ],
  });
});

afterAll(async () => {
  await sim.stop();
  await table.drop();
});

beforeEach(() => {
  logger = captureLogger();
  sim.clearIntercepts();
  sim.resetCalls();
});

describe('mint: rejectedToken', () => {
  it('20 concurrent mints rejecting one token share one Wix call and all get the same new token', async () => {
    const instanceId = await installed();
    const containers = [container(), container(), container()];
    const first = await containers[0]!.handler({ instanceId }, lambdaContext());
    await containers[1]!.handler({ instanceId }, lambdaContext());
    sim.resetCalls();

    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        containers[index % containers.length]!.handler({ instanceId, rejectedToken: first.accessToken }, lambdaContext()),
      ),
    );

    expect(sim.calls.byGrant['client_credentials']).toBe(1);
    const tokens = new Set(answers.map((answer) => answer.accessToken));
    expect(tokens.size).toBe(1);
    expect(tokens.has(first.accessToken)).toBe(false);
  });

  it('never answers the rejected token again from that container, even without rejectedToken and with Wix down', async () => {
    const instanceId = await installed();
    const { handler } = container();
    const first = await handler({ instanceId }, lambdaContext());
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token', rate: 1 }));

    const rejecting = await refusal(handler({ instanceId, rejectedToken: first.accessToken }, lambdaContext(3000)));
    const later = await refusal(handler({ instanceId }, lambdaContext(3000)));

    // Without the rejection the stored token would be served as a stale fallback.
    expect(rejecting.name).toBe('WixUnavailable');
    expect(later.name).toBe('WixUnavailable');
    expect(`${rejecting.message} ${later.message}`).not.toContain(first.accessToken);
  });

  it('another container holding the old token in memory serves the replacement once it is stored', async () => {
    const instanceId = await installed();
    const a = container();
    const b = container();
    const first = await a.handler({ instanceId }, lambdaContext());
    expect((await b.handler({ instanceId }, lambdaContext())).accessToken).toBe(first.accessToken);

    const replaced = await a.handler({ instanceId, rejectedToken: first.accessToken }, lambdaContext());
    const fromB = await b.handler({ instanceId }, lambdaContext());

    expect(replaced.accessToken).not.toBe(first.accessToken);
    expect(fromB.accessToken).toBe(replaced.accessToken);
  });

  it('a rejected token the service never issued changes nothing', async () => {
    const instanceId = await installed();
    const { handler } = container();
    const first = await handler({ instanceId }, lambdaContext());
    sim.resetCalls();

    const again = await handler({ instanceId, rejectedToken: 'OauthNG.JWS.not-one-of-ours' }, lambdaContext());

    expect(again.accessToken).toBe(first.accessToken);
    expect(sim.calls.total).toBe(0);
  });

  it.each([
    ['an empty string', ''],
    ['a number', 42],
    ['a token with spaces', 'OauthNG.JWS. x'],
    ['4097 characters', 'a'.repeat(4097)],
  ])('refuses %s as InvalidRequest, naming the field', async (_label, rejectedToken) => {
    const instanceId = await installed();

    const error = await refusal(container().handler({ instanceId, rejectedToken }, lambdaContext()));

    expect(error).toMatchObject({ name: 'InvalidRequest', field: 'rejectedToken' });
  });
});

describe('mint: wixAccessToken (verified elevation)', () => {
  const tokenInfoCalls = () => sim.calls.byPath['/oauth2/token-info'] ?? 0;

  it('answers an app token for the instance behind a frontend token, exactly as for instanceId', async () => {
    const instanceId = await installed();
    const frontend = sim.issueFrontendToken(app.appId, instanceId);

    const answer = await container().handler({ wixAccessToken: frontend }, lambdaContext());

    expect(answer).toEqual({
      accessToken: expect.stringMatching(/^OauthNG\.JWS\./),
      tokenType: 'Bearer',
      expiresAt: expect.any(String),
      instanceId,
      appId: app.appId,
    });
    expect(answer.accessToken).not.toBe(frontend);
    expect(sim.describeToken(answer.accessToken)).toMatchObject({ kind: 'access', instanceId, live: true });
  });

  it('a burst of 50 elevations of one token costs one Token Info call', async () => {
    const instanceId = await installed();
    const frontend = sim.issueFrontendToken(app.appId, instanceId);
    const { handler } = container();

    const answers = await Promise.all(Array.from({ length: 50 }, () => handler({ wixAccessToken: frontend }, lambdaContext())));
    const afterwards = await handler({ wixAccessToken: frontend }, lambdaContext());

    expect(tokenInfoCalls()).toBe(1);
    expect(new Set([...answers, afterwards].map((answer) => answer.instanceId))).toEqual(new Set([instanceId]));
  });

  it.each([
    ['another app’s token', () => sim.issueFrontendToken(foreignAppId, sim.install(foreignAppId)), /another app|not issued for an app/],
    ['an inactive token', () => sim.issueFrontendToken(app.appId, sim.install(app.appId), { active: false }), /not active/],
    ['a token without an instance', () => sim.issueFrontendToken(app.appId, undefined), /no app instance/],
    ['a token Wix never issued', () => 'OauthNG.JWS.made-up', /not active/],
  ])('refuses %s as WixRejected, without quoting it', async (_label, tokenOf, reason) => {
    const token = tokenOf();

    const error = await refusal(container().handler({ wixAccessToken: token }, lambdaContext()));

    expect(error.name).toBe('WixRejected');
    expect(error.message).toMatch(reason);
    expect(error.message).not.toContain(token);
    expect(logger.lines.join('\n')).not.toContain(token);
  });

  it('refuses a token for an instance whose app was removed since', async () => {
    const instanceId = await installed();
    const frontend = sim.issueFrontendToken(app.appId, instanceId);
    sim.uninstall(app.appId, instanceId);

    const error = await refusal(container().handler({ wixAccessToken: frontend }, lambdaContext()));

    expect(error.name).toBe('WixRejected');
  });

  it('refuses an appId that is not the token’s app', async () => {
    const instanceId = await installed();
    const frontend = sim.issueFrontendToken(foreignAppId, instanceId);

    const error = await refusal(container().handler({ wixAccessToken: frontend, appId: app.appId }, lambdaContext()));

    expect(error.name).toBe('WixRejected');
  });

  it.each([
    ['a malformed value', { wixAccessToken: 'has spaces in it' }, 'wixAccessToken'],
    ['an over-long value', { wixAccessToken: 'x'.repeat(4097) }, 'wixAccessToken'],
    ['a non-string', { wixAccessToken: { token: 'x' } }, 'wixAccessToken'],
    ['both instanceId and wixAccessToken', { wixAccessToken: 'OauthNG.JWS.x', instanceId: randomUUID() }, 'wixAccessToken'],
  ])('refuses %s as InvalidRequest without asking Wix', async (_label, payload, field) => {
    const error = await refusal(container().handler(payload, lambdaContext()));

    expect(error).toMatchObject({ name: 'InvalidRequest', field });
    expect(tokenInfoCalls()).toBe(0);
  });

  it('is WixUnavailable when Token Info cannot be reached, and asks again next time', async () => {
    const instanceId = await installed();
    const frontend = sim.issueFrontendToken(app.appId, instanceId);
    const { handler } = container();
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token-info', rate: 1 }));

    const error = await refusal(handler({ wixAccessToken: frontend }, lambdaContext(4000)));
    sim.clearIntercepts();
    const answer = await handler({ wixAccessToken: frontend }, lambdaContext());

    expect(error.name).toBe('WixUnavailable');
    expect(answer.instanceId).toBe(instanceId);
  });
});
