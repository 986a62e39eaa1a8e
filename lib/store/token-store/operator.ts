import { ENVELOPE_VERSION, envelopeKeyId, type TokenField } from '../../crypto';
import { ServiceError } from '../../errors';
import { A, cipherContext, instancePk, keyFromPk } from '../item';
import * as rules from '../transitions';
import { Refusal } from '../transitions';
import type { EnvelopeKeyIds, ImportOutcome, KeyIdPage, RewrapOutcome, TokenStore } from '../types';
import type { StoreCore } from '../token-store';
import { decodeScanCursor, encodeScanCursor } from './cursors';

/**
 * The operator's writes (infra/ops, lib/ops): the key ids of the stored envelopes, re-wrapping them
 * under the ring's current key, and importing an existing install (../transitions/operator).
 */

/** The key id reported for an envelope whose key id cannot be read (not one this cipher wrote). */
export const UNREADABLE_KEY_ID = '(unreadable)';

export type OperatorMethods = Pick<TokenStore, 'scanKeyIds' | 'rewrapTokens' | 'importTokens'>;

export function operatorMethods(core: StoreCore): OperatorMethods {
  const { engine, cipherFor, now, skewMs, due, encrypt, run } = core;

  return {
    async scanKeyIds(query): Promise<KeyIdPage> {
      if (!Number.isInteger(query.limit) || query.limit < 1) throw new TypeError('limit must be a positive integer');
      const prefix = query.appId === undefined ? undefined : `${query.appId}#`;
      const startKey = query.cursor === undefined ? undefined : decodeScanCursor(query.cursor);
      const page = await engine.scanEnvelopes(prefix, query.limit, startKey);
      const items: EnvelopeKeyIds[] = [];
      for (const raw of page.items) {
        const key = keyFromPk(raw.pk);
        if (key === undefined) continue;
        const item: EnvelopeKeyIds = { ...key, version: raw.version };
        if (raw.refreshToken !== undefined) item.refreshTokenKeyId = envelopeKeyId(raw.refreshToken) ?? UNREADABLE_KEY_ID;
        if (raw.accessToken !== undefined) item.accessTokenKeyId = envelopeKeyId(raw.accessToken) ?? UNREADABLE_KEY_ID;
        items.push(item);
      }
      return page.lastKey === undefined ? { items } : { items, cursor: encodeScanCursor(page.lastKey) };
    },

    async rewrapTokens(key, target): Promise<RewrapOutcome> {
      const item = await engine.get(instancePk(key), { consistent: true, projection: [A.pk, A.version, A.refreshToken, A.accessToken] });
      if (item === undefined) return 'absent';
      const due = (envelope: string | undefined) => {
        if (envelope === undefined) return false;
        const keyId = envelopeKeyId(envelope);
        // An envelope whose key id cannot be read is left as it is, not re-wrapped blind.
        if (keyId === undefined) return false;
        // A v1 envelope (not bound to its field) is rewritten as v2 even under the current key.
        if (keyId === target.currentKeyId) return !envelope.startsWith(`${ENVELOPE_VERSION}.`) && target.fromKeyId === undefined;
        return target.fromKeyId === undefined || keyId === target.fromKeyId;
      };
      const rewrapRefresh = due(item.refreshToken);
      const rewrapAccess = due(item.accessToken);
      if (!rewrapRefresh && !rewrapAccess) return 'current';
      const cipher = await cipherFor(key.appId);
      const context = cipherContext(key);
      const rewrap = (envelope: string, field: TokenField) => {
        const sealed = cipher.encrypt(cipher.decrypt(envelope, context, field), context, field);
        if (envelopeKeyId(sealed) !== target.currentKeyId) {
          throw new ServiceError('KEY_RING_MISMATCH', `The app's key ring does not encrypt under key ${target.currentKeyId}`);
        }
        return sealed;
      };
      const read = {
        version: item.version,
        ...(item.refreshToken === undefined ? {} : { refreshToken: item.refreshToken }),
        ...(item.accessToken === undefined ? {} : { accessToken: item.accessToken }),
      };
      const transition = rules.rewrapTokens({
        read,
        ...(rewrapRefresh ? { refreshToken: rewrap(item.refreshToken as string, 'refreshToken') } : {}),
        ...(rewrapAccess ? { accessToken: rewrap(item.accessToken as string, 'accessToken') } : {}),
      });
      const result = await engine.write(transition.name, instancePk(key), transition.condition, transition.update, { returnItem: false });
      if (result.ok) return 'rewrapped';
      return 'changed';
    },

    async importTokens(key, tokens): Promise<ImportOutcome> {
      const seal = await encrypt(key);
      const current = await engine.get(instancePk(key), { consistent: true });
      const transition = rules.importTokens({
        ...key,
        at: now(),
        skewMs,
        importId: tokens.importId,
        expectedVersion: current?.version,
        grantKind: tokens.grantKind,
        ...(tokens.refreshToken === undefined ? {} : { refreshToken: seal(tokens.refreshToken, 'refreshToken') }),
        accessToken: seal(tokens.accessToken, 'accessToken'),
        accessTokenExpiresAt: tokens.accessTokenExpiresAt,
        due: due(key, tokens.refreshDueAt),
      });
      const result = await run(key, transition);
      if (result.ok || result.refusal === Refusal.Applied) return { outcome: 'imported' };
      return { outcome: 'skipped', reason: result.refusal };
    },
  };
}
