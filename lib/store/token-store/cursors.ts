import { ServiceError } from '../../errors';
import { A, keyFromPk } from '../item';

/**
 * The cursors the store hands out and takes back: the due-index walk's, the status index's and the
 * operator scan's, each base64url JSON checked on the way back in (INVALID_CURSOR otherwise).
 */

interface WalkPosition {
  /** The shard the walk started from. */
  start: number;
  /** Shards read to the end. */
  done: number;
  /** Where to resume in shard (start + done) % shards. */
  lastKey: Record<string, unknown> | undefined;
}

export function freshWalk(startShard: number, shards: number): WalkPosition {
  if (!Number.isInteger(startShard) || startShard < 0) throw new TypeError('startShard must be a non-negative integer');
  return { start: startShard % shards, done: 0, lastKey: undefined };
}

export function encodeCursor(position: WalkPosition): string {
  return Buffer.from(JSON.stringify({ s: position.start, d: position.done, k: position.lastKey }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, shards: number): WalkPosition {
  const invalid = () => new ServiceError('INVALID_CURSOR', 'The due-index cursor is not one this store wrote');
  const parsed = cursorJson(cursor, invalid);
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const { s, d, k } = parsed as { s?: unknown; d?: unknown; k?: unknown };
  if (!Number.isInteger(s) || !Number.isInteger(d) || (s as number) < 0 || (d as number) < 0 || (d as number) > shards) {
    throw invalid();
  }
  if (k !== undefined && (typeof k !== 'object' || k === null)) throw invalid();
  return { start: (s as number) % shards, done: d as number, lastKey: k as Record<string, unknown> | undefined };
}

/** A status-index cursor: the index's last key, as base64url JSON; checked on the way back in. */
export function encodeStatusCursor(lastKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ s: lastKey[A.status], p: lastKey[A.pk] })).toString('base64url');
}

export function decodeStatusCursor(cursor: string, status: string): Record<string, unknown> {
  const invalid = () => new ServiceError('INVALID_CURSOR', 'The status cursor is not one this store wrote for that state');
  const decoded = cursorJson(cursor, invalid);
  const { s, p } = (decoded ?? {}) as { s?: unknown; p?: unknown };
  if (s !== status || typeof p !== 'string' || keyFromPk(p) === undefined) throw invalid();
  return { [A.status]: s, [A.pk]: p };
}

/** A scan cursor: the scan's last key (an instance pk), as base64url JSON; checked on the way back in. */
export function encodeScanCursor(lastKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ p: lastKey[A.pk] })).toString('base64url');
}

export function decodeScanCursor(cursor: string): Record<string, unknown> {
  const invalid = () => new ServiceError('INVALID_CURSOR', 'The scan cursor is not one this store wrote');
  const decoded = cursorJson(cursor, invalid);
  const { p } = (decoded ?? {}) as { p?: unknown };
  if (typeof p !== 'string' || p === '') throw invalid();
  return { [A.pk]: p };
}

/** A cursor's JSON (base64url), or the caller's own INVALID_CURSOR error for anything that is not. */
function cursorJson(cursor: string, invalid: () => ServiceError): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
}
