import { InvalidRequestError } from '../../../../lib/tokens/errors';
import { parseMintRequest, resolveAppId } from '../../../../lib/tokens/mint-request';
import { tokenHash } from '../../../../lib/tokens/token-hash';
import { thrownBy } from '../../../support/failures';

const appId = '2a1b3c4d-0000-4000-8000-00000000a001';
const otherAppId = '2a1b3c4d-0000-4000-8000-00000000a002';
const instanceId = '7f3e2d1c-0000-4000-8000-0000000000b1';

const refusal = (parse: () => unknown): InvalidRequestError => thrownBy(InvalidRequestError, parse);

describe('parseMintRequest', () => {
  it('fills in the only served app and a five-minute validity', () => {
    expect(parseMintRequest({ instanceId }, [appId])).toEqual({ appId, instanceId, minValidityMs: 300_000 });
  });

  it('lower-cases the instance and the app, so one instance is one cache and store key', () => {
    const request = parseMintRequest({ instanceId: instanceId.toUpperCase(), appId: appId.toUpperCase() }, [appId]);

    expect(request).toEqual({ appId, instanceId, minValidityMs: 300_000 });
  });

  it.each([0, 1, 3600])('accepts minValiditySeconds %i', (seconds) => {
    expect(parseMintRequest({ instanceId, minValiditySeconds: seconds }, [appId]).minValidityMs).toBe(seconds * 1000);
  });

  it.each([
    ['a number', 42, 'payload'],
    ['a missing instanceId', { appId }, 'instanceId'],
    ['an empty instanceId', { instanceId: '' }, 'instanceId'],
    ['an instanceId with spaces around it', { instanceId: ` ${instanceId} ` }, 'instanceId'],
    ['an instanceId without dashes', { instanceId: instanceId.replaceAll('-', '') }, 'instanceId'],
    ['an appId of the wrong type', { instanceId, appId: 7 }, 'appId'],
    ['minValiditySeconds as a boolean', { instanceId, minValiditySeconds: true }, 'minValiditySeconds'],
    ['minValiditySeconds as infinity', { instanceId, minValiditySeconds: Number.POSITIVE_INFINITY }, 'minValiditySeconds'],
    ['minValiditySeconds as NaN', { instanceId, minValiditySeconds: Number.NaN }, 'minValiditySeconds'],
  ])('refuses %s, naming the field', (_, payload, field) => {
    const error = refusal(() => parseMintRequest(payload, [appId]));

    expect(error.name).toBe('InvalidRequest');
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${field} `)).toBe(true);
  });

  it('checks the fields in a fixed order and names the first bad one', () => {
    const error = refusal(() => parseMintRequest({ instanceId: 'x', appId: 'y', minValiditySeconds: -1 }, [appId]));

    expect(error.field).toBe('instanceId');
  });

  it('never echoes a value it refuses', () => {
    const secretLooking = 'OauthNG.JWS.eyJhbGciOiJSUzI1NiJ9';

    const errors = [
      refusal(() => parseMintRequest({ instanceId: secretLooking }, [appId])),
      refusal(() => parseMintRequest({ instanceId, appId: secretLooking }, [appId])),
      refusal(() => parseMintRequest({ instanceId, minValiditySeconds: secretLooking }, [appId])),
      refusal(() => parseMintRequest({ instanceId, [secretLooking]: 1 }, [appId])),
    ];

    for (const error of errors) {
      expect(`${error.message} ${JSON.stringify(error)}`).not.toContain('eyJhbGciOiJSUzI1NiJ9');
    }
  });

  it('names an unknown field that looks like a field name, and calls anything else the payload', () => {
    expect(refusal(() => parseMintRequest({ instanceId, minValidity: 60 }, [appId])).field).toBe('minValidity');
    expect(refusal(() => parseMintRequest({ instanceId, 'x y': 1 }, [appId])).field).toBe('payload');
    expect(refusal(() => parseMintRequest(JSON.parse(`{"instanceId":"${instanceId}","__proto__":{}}`), [appId])).field).toBe('payload');
  });
});

describe('resolveAppId', () => {
  it('takes the only served app when none is named', () => {
    expect(resolveAppId(undefined, [appId])).toBe(appId);
  });

  it('requires an app when the deployment serves several', () => {
    const error = refusal(() => resolveAppId(undefined, [appId, otherAppId]));

    expect(error.field).toBe('appId');
    expect(error.message).toBe('appId is required: this deployment serves several apps');
  });

  it('accepts any served app by name', () => {
    expect(resolveAppId(otherAppId, [appId, otherAppId])).toBe(otherAppId);
  });

  it('refuses a well-formed app the deployment does not serve', () => {
    const error = refusal(() => resolveAppId(otherAppId, [appId]));

    expect(error.message).toBe('appId is not an app this deployment serves');
  });

  it('keeps only the hash of a rejected token', () => {
    const rejectedToken = 'OauthNG.JWS.rejected-one';

    const request = parseMintRequest({ instanceId, rejectedToken }, [appId]);

    expect(request).toEqual({ appId, instanceId, minValidityMs: 300_000, rejectedTokenHash: tokenHash(rejectedToken) });
    expect(JSON.stringify(request)).not.toContain(rejectedToken);
  });

  it('takes a frontend token instead of an instance, with an optional served app', () => {
    expect(parseMintRequest({ wixAccessToken: 'OauthNG.JWS.abc' }, [appId, otherAppId])).toEqual({ wixAccessToken: 'OauthNG.JWS.abc', minValidityMs: 300_000 });
    expect(parseMintRequest({ wixAccessToken: 'OauthNG.JWS.abc', appId: otherAppId.toUpperCase() }, [appId, otherAppId])).toMatchObject({ appId: otherAppId });
    expect(refusal(() => parseMintRequest({ wixAccessToken: 'OauthNG.JWS.abc', appId: randomGuid() }, [appId])).field).toBe('appId');
  });
});

function randomGuid(): string {
  return '2a1b3c4d-0000-4000-8000-00000000a0ff';
}
