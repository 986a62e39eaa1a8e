import { APP_INSTANCE_PATH } from '../../../../infra/local/wix-simulator';
import { APP, clientCredentials, simulatorPerTest, START } from '../../../support/wix-simulator-calls';

/** The simulator's one authenticated Wix API route (issue 13), kept apart from the OAuth tests. */

const wix = simulatorPerTest();

async function mint(instanceId: string): Promise<string> {
  return (await clientCredentials(wix.sim, instanceId)).json.access_token as string;
}

async function appInstance(authorization?: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${wix.sim.url}${APP_INSTANCE_PATH}`, { method, headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

describe('GET /apps/v1/instance', () => {
  it('answers the instance for a live access token sent bare', async () => {
    const instanceId = wix.sim.install(APP.appId);
    const token = await mint(instanceId);

    expect(await appInstance(token)).toEqual({ status: 200, body: { instance: { instanceId, appId: APP.appId } } });
  });

  it('answers 401 without a token, for an unknown one, a Bearer-prefixed one, an expired one and after uninstall', async () => {
    const instanceId = wix.sim.install(APP.appId);
    const token = await mint(instanceId);

    expect((await appInstance()).status).toBe(401);
    expect((await appInstance('OauthNG.JWS.not-issued')).status).toBe(401);
    expect((await appInstance(`Bearer ${token}`)).status).toBe(401);
    wix.clock += 4 * 3600_000 + 1000;
    expect((await appInstance(token)).status).toBe(401);

    wix.clock = START;
    const fresh = await mint(instanceId);
    expect((await appInstance(fresh)).status).toBe(200);
    wix.sim.uninstall(APP.appId, instanceId);
    expect((await appInstance(fresh)).status).toBe(401);
  });

  it('answers only GET', async () => {
    const token = await mint(wix.sim.install(APP.appId));

    expect((await appInstance(token, 'POST')).status).toBe(405);
  });
});
