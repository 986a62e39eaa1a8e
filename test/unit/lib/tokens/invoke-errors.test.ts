import { DecryptionError } from '../../../../lib/crypto/errors';
import { SecretsUnavailableError } from '../../../../lib/secrets';
import { LeaseWaitTimeoutError, StoreUnavailableError, TokenConflictError } from '../../../../lib/store';
import { ServiceUnavailableError, TokenUnavailableError } from '../../../../lib/tokens/errors';
import { isOutage } from '../../../../lib/tokens/invoke-errors';
import { RotatedTokenLostError } from '../../../../lib/tokens/refresh';
import { WixCredentialsRejectedError, WixUnavailableError } from '../../../../lib/wix';

const key = { appId: '00000000-0000-4000-8000-000000000000', instanceId: '11111111-1111-4111-8111-111111111111' };

/**
 * isOutage decides when mint may answer with the last stored token it saw instead of an error.
 * Only a dependency being down allows it: after a conflict (an uninstall landed, another writer
 * moved the record on) that token may be exactly the one that must no longer be served.
 */
describe('isOutage: when mint may serve the last token it saw', () => {
  it.each([
    ['the store is down', new StoreUnavailableError('ThrottlingException', 'getInstance', new Error('slow down'))],
    ['Secrets Manager is down', new SecretsUnavailableError(key.appId, new Error('down'))],
    ['Wix is down', new WixUnavailableError('WIX_TIMEOUT', 'no answer', { operation: 'client_credentials' })],
    ['another minter holds the instance and Wix has not answered it', new TokenUnavailableError('another caller holds this instance')],
  ])('%s: an outage', (_name, error) => {
    expect(isOutage(error)).toBe(true);
  });

  it.each([
    ['the record was uninstalled under the write', new TokenConflictError(key, 'uninstalled', undefined)],
    ['the wait for another minter ran out', new LeaseWaitTimeoutError(key, 7000)],
    ['a rotated refresh token could not be stored', new RotatedTokenLostError(new Error('lost'))],
    ['a token could not be decrypted', new DecryptionError('unknown_key', 'no such key')],
    ['Wix refused the app credentials', new WixCredentialsRejectedError('refused', { operation: 'client_credentials' })],
    ["mint's own ServiceUnavailable", new ServiceUnavailableError('the instance record could not be created')],
    ['a foreign error', new TypeError('x is undefined')],
  ])('%s: no outage', (_name, error) => {
    expect(isOutage(error)).toBe(false);
  });
});
