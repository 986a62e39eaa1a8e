import { createElevation } from '../../../../lib/tokens/elevation';
import type { TokenInfo } from '../../../../lib/wix';
import { WixOAuthError } from '../../../../lib/wix';

const appId = '2a1b3c4d-0000-4000-8000-00000000a001';
const instanceId = '7f3e2d1c-0000-4000-8000-0000000000b1';

function setUp(answer: (token: string) => TokenInfo | Error) {
  let now = 1_800_000_000_000;
  const asked: string[] = [];
  const elevation = createElevation({
    appIds: [appId],
    now: () => now,
    logger: { info: () => undefined },
    wix: {
      getTokenInfo: async (token) => {
        asked.push(token);
        const result = answer(token);
        if (result instanceof Error) throw result;
        return result;
      },
    },
  });
  const resolve = (wixAccessToken: string) => elevation.resolve({ wixAccessToken, minValidityMs: 300_000 }, now + 5000);
  return { resolve, asked, advance: (ms: number) => (now += ms), now: () => now };
}

describe('createElevation', () => {
  it('remembers a vouched token until its own expiry, then asks again', async () => {
    let expiresAt = 0;
    const world = setUp(() => ({ active: true, clientId: appId.toUpperCase(), instanceId, expiresAt }));
    expiresAt = world.now() + 60_000;

    const first = await world.resolve('t1');
    world.advance(59_000);
    await world.resolve('t1');
    world.advance(2_000);
    expiresAt = world.now() + 60_000;
    await world.resolve('t1');

    expect(first).toEqual({ appId, instanceId, minValidityMs: 300_000 });
    expect(world.asked).toEqual(['t1', 't1']);
  });

  it('remembers a refusal for a minute', async () => {
    const world = setUp(() => ({ active: false }));

    await expect(world.resolve('t2')).rejects.toMatchObject({ name: 'WixRejected' });
    world.advance(59_000);
    await expect(world.resolve('t2')).rejects.toMatchObject({ name: 'WixRejected' });
    world.advance(2_000);
    await expect(world.resolve('t2')).rejects.toMatchObject({ name: 'WixRejected' });

    expect(world.asked).toHaveLength(2);
  });

  it('refuses a token whose instance id is no GUID, and one Wix refuses to describe', async () => {
    const world = setUp((token) =>
      token === 'bad-instance'
        ? { active: true, clientId: appId, instanceId: 'not-a-guid' }
        : new WixOAuthError('bad_request', 'WIX_BAD_REQUEST', 'refused', { operation: 'token_info', status: 400 }),
    );

    await expect(world.resolve('bad-instance')).rejects.toMatchObject({ name: 'WixRejected', message: 'the token names no app instance' });
    await expect(world.resolve('refused')).rejects.toMatchObject({ name: 'WixRejected' });
  });

  it('does not remember a Token Info outage', async () => {
    let down = true;
    const world = setUp(() => (down ? new WixOAuthError('transient', 'WIX_UNAVAILABLE', 'down', { operation: 'token_info' }) : { active: true, clientId: appId, instanceId }));

    await expect(world.resolve('t3')).rejects.toMatchObject({ name: 'WixUnavailable' });
    down = false;

    await expect(world.resolve('t3')).resolves.toMatchObject({ instanceId });
    expect(world.asked).toHaveLength(2);
  });
});
