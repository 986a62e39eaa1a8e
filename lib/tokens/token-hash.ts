import { createHash } from 'node:crypto';

/**
 * How mint refers to a token it must not keep: a caller's rejected token, a frontend token being
 * elevated. SHA-256, base64url; the token itself is neither logged nor stored.
 */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
