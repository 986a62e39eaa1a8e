import { randomUUID } from 'node:crypto';

/** A payload an invoked function must refuse: what it is, the payload, and the field the refusal names. */
export type RefusedPayload = [what: string, payload: unknown, field: string];

/**
 * The payloads both invoked functions (mint and refresh) refuse alike, with the field each
 * refusal names; each function's test adds the ones only it refuses.
 */
export function commonRefusedPayloads(): RefusedPayload[] {
  return [
    ['a string payload', 'not an object', 'payload'],
    ['an array payload', [], 'payload'],
    ['null', null, 'payload'],
    ['an empty object (no instanceId)', {}, 'instanceId'],
    ['an instanceId that is not a GUID', { instanceId: 'abc' }, 'instanceId'],
    ['an instanceId of the wrong type', { instanceId: 42 }, 'instanceId'],
    ['an appId that is not a GUID', { instanceId: randomUUID(), appId: 'x' }, 'appId'],
    ['an app this deployment does not serve', { instanceId: randomUUID(), appId: randomUUID() }, 'appId'],
  ];
}
