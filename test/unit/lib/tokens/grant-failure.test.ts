import { randomUUID } from 'node:crypto';

import { StoreUnavailableError } from '../../../../lib/store';
import { releaseLeaseQuietly } from '../../../../lib/tokens/grant-failure';

const key = { appId: randomUUID(), instanceId: randomUUID() };

describe('releaseLeaseQuietly', () => {
  it('says whether the lease was given back', async () => {
    const released = await releaseLeaseQuietly({ releaseLease: async () => true }, key, 'owner');
    const notOurs = await releaseLeaseQuietly({ releaseLease: async () => false }, key, 'owner');

    expect(released).toBe(true);
    expect(notOurs).toBe(false);
  });

  it('lets the lease expire on its own when the store is unavailable', async () => {
    const store = {
      releaseLease: async (): Promise<boolean> => {
        throw new StoreUnavailableError('ThrottlingException', 'releaseLease', undefined);
      },
    };

    await expect(releaseLeaseQuietly(store, key, 'owner')).resolves.toBe(false);
  });

  it('rethrows anything else', async () => {
    const store = {
      releaseLease: async (): Promise<boolean> => {
        throw new TypeError('a bug');
      },
    };

    await expect(releaseLeaseQuietly(store, key, 'owner')).rejects.toBeInstanceOf(TypeError);
  });
});
