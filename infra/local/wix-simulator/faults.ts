/**
 * Fault injection: one interception hook, and ready-made hooks for the faults tests need.
 *
 * The simulator knows nothing of faults. Before it routes a call it asks each installed
 * {@link Intercept} in turn; the first that answers decides what happens instead (a reply, a
 * hang, a reset) or how a successful answer is damaged. {@link wixFaults} builds the common
 * hooks, each scoped by path, grant, count or rate ({@link FaultScope}).
 */
import { WixSimulatorLifetimes, WixSimulatorPaths } from './contract';
import { failReply, JSON_TYPE, reasonOf, serverErrorPage, htmlPage, type Reply, type WixErrorShape } from './replies';

/** What a hook sees of a call: where it goes, its `grant_type` (token endpoints), and the simulator's randomness. */
export interface InterceptedCall {
  path: string;
  method: string;
  grant: string | undefined;
  /** The simulator's source of randomness (its `random` option), so rate faults are reproducible. */
  random: () => number;
  /** The simulator's error shape, for hooks that answer OAuth errors. */
  errorShape: WixErrorShape;
}

/**
 * What a hook does to a call instead of the endpoint: answer `reply` (nothing consumed or
 * issued), `hang` (never answer), `reset` (destroy the socket), or let the endpoint run and
 * `damage` its answer (called only for a successful JSON answer, so the grant is performed).
 */
export type Interception = { reply: Reply } | { hang: true } | { reset: true } | { damage: (body: Record<string, unknown>) => void };

/** An interception hook: an {@link Interception} for a call it takes, undefined for the rest. */
export type Intercept = (call: InterceptedCall) => Interception | undefined;

/** Which calls a ready-made fault takes. */
export interface FaultScope {
  /**
   * Only calls to this path. Default: every token endpoint (`/oauth/access`, `/oauth2/token`,
   * `/oauth2/token-info`); for faults on the access token or `expires_in`, only the two grant
   * endpoints, since Token Info answers carry neither field.
   */
  path?: string;
  /** Only calls whose body has this `grant_type`. */
  grant?: string;
  /** The next N matching calls (default 1). Mutually exclusive with `rate`. */
  times?: number;
  /** Probability (0..1) of taking each matching call, until the hooks are cleared. */
  rate?: number;
}

/** A status fault's answer: by default an HTML page for 5xx, a JSON error (`error`, `errorDescription`) otherwise. */
export interface StatusFault extends FaultScope {
  /** A body replacing the default one. */
  body?: string;
  /** Content-Type of a custom `body` (default JSON). */
  contentType?: string;
  /** The `error` of the default JSON error body (default derived from the status). */
  error?: string;
  /** The `error_description` of the default JSON error body. */
  errorDescription?: string;
}

const GRANT_PATHS: readonly string[] = [WixSimulatorPaths.legacyAccess, WixSimulatorPaths.token];
const TOKEN_PATHS: readonly string[] = [...GRANT_PATHS, WixSimulatorPaths.tokenInfo];

/** Ready-made hooks for the faults a Wix client must survive. */
export const wixFaults = {
  /** Answers `status` (default body: HTML for 5xx, a JSON error for 4xx, empty below 400). */
  status: (status: number, fault: StatusFault = {}): Intercept => {
    if (!(Number.isInteger(status) && status >= 200 && status <= 599)) throw new RangeError('fault status must be an HTTP status code');
    return scoped(fault, TOKEN_PATHS, (call) => ({ reply: statusReply(call.errorShape, status, fault) }));
  },
  /** 429, with `Retry-After` (seconds, or an HTTP date) when given. */
  rateLimit: (fault: StatusFault & { retryAfter?: number | string } = {}): Intercept =>
    scoped(fault, TOKEN_PATHS, (call) => {
      const reply = statusReply(call.errorShape, 429, fault);
      return { reply: fault.retryAfter === undefined ? reply : { ...reply, headers: { ...reply.headers, 'retry-after': String(fault.retryAfter) } } };
    }),
  /** Accepts the call and never answers (until the client aborts or the simulator stops). */
  hang: (scope: FaultScope = {}): Intercept => scoped(scope, TOKEN_PATHS, () => ({ hang: true })),
  /** Destroys the socket without answering. */
  reset: (scope: FaultScope = {}): Intercept => scoped(scope, TOKEN_PATHS, () => ({ reset: true })),
  /** 200 with an HTML page. */
  html: (scope: FaultScope = {}): Intercept => answering(scope, htmlPage(200, 'Wix', 'Something went wrong on our side.')),
  /** 200, `application/json`, a body that does not parse. */
  notJson: (scope: FaultScope = {}): Intercept => answering(scope, { kind: 'raw', status: 200, body: '{"access_token": "OauthNG.JWS.', contentType: JSON_TYPE }),
  /** 200 with no body. */
  emptyBody: (scope: FaultScope = {}): Intercept => answering(scope, { kind: 'raw', status: 200, body: '', contentType: JSON_TYPE }),
  /** A real grant answer without `access_token`. */
  missingAccessToken: (scope: FaultScope = {}): Intercept => damaging(scope, GRANT_PATHS, (body) => delete body.access_token),
  /** A real grant answer whose `access_token` is a number. */
  mistypedAccessToken: (scope: FaultScope = {}): Intercept => damaging(scope, GRANT_PATHS, (body) => (body.access_token = 12345)),
  /** A real grant answer with `expires_in` as a string (`"14400"`). */
  expiresInString: (scope: FaultScope = {}): Intercept =>
    scoped(scope, GRANT_PATHS, (call) => ({ damage: (body) => (body.expires_in = String(body.expires_in ?? lifetimeOf(call.path))) })),
  /** A real grant answer without `expires_in`. */
  expiresInMissing: (scope: FaultScope = {}): Intercept => damaging(scope, GRANT_PATHS, (body) => delete body.expires_in),
  /** A real grant answer with `expires_in: "soon"`. */
  expiresInInvalid: (scope: FaultScope = {}): Intercept => damaging(scope, GRANT_PATHS, (body) => (body.expires_in = 'soon')),
  /** A real answer with fields no client asked for. */
  extraFields: (scope: FaultScope = {}): Intercept =>
    damaging(scope, TOKEN_PATHS, (body) => Object.assign(body, { scope: 'offline_access', x_simulator_extra: { nested: [1, 2, 3] }, id_token: null })),
} as const;

/**
 * A small seeded PRNG (mulberry32): same seed, same sequence of numbers in [0, 1).
 * The simulator's default source of randomness for probabilistic faults.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function answering(scope: FaultScope, reply: Reply): Intercept {
  return scoped(scope, TOKEN_PATHS, () => ({ reply }));
}

function damaging(scope: FaultScope, paths: readonly string[], damage: (body: Record<string, unknown>) => unknown): Intercept {
  return scoped(scope, paths, () => ({ damage: (body) => void damage(body) }));
}

/**
 * Wraps `act` in a scope: matching path and grant, then `times` (used up only when the
 * interception took effect: a damage waits for a successful answer) or `rate`.
 */
function scoped(scope: FaultScope, defaultPaths: readonly string[], act: (call: InterceptedCall) => Interception): Intercept {
  const { path, grant, times, rate } = scope;
  if (times !== undefined && rate !== undefined) throw new TypeError('a fault takes times or rate, not both');
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new RangeError('fault rate must be within 0..1');
  if (times !== undefined && !(Number.isInteger(times) && times > 0)) throw new RangeError('fault times must be a positive integer');
  let remaining = times ?? 1;
  return (call) => {
    if (path !== undefined ? path !== call.path : !defaultPaths.includes(call.path)) return undefined;
    if (grant !== undefined && grant !== call.grant) return undefined;
    if (rate !== undefined) return call.random() < rate ? act(call) : undefined;
    if (remaining <= 0) return undefined;
    const interception = act(call);
    if (!('damage' in interception)) {
      remaining -= 1;
      return interception;
    }
    const { damage } = interception;
    return {
      damage: (body) => {
        remaining -= 1;
        damage(body);
      },
    };
  };
}

function statusReply(shape: WixErrorShape, status: number, fault: StatusFault): Reply {
  if (fault.body !== undefined) return { kind: 'raw', status, body: fault.body, contentType: fault.contentType ?? JSON_TYPE };
  if (status >= 500) return serverErrorPage(status);
  if (status < 400) return { kind: 'raw', status, body: '' };
  const failure = { status, error: fault.error ?? defaultError(status), description: fault.errorDescription ?? reasonOf(status) };
  // A fault's answer carries no cache-control: it stands for whatever sits in front of Wix.
  return { ...failReply(shape, failure), headers: {} };
}

function defaultError(status: number): string {
  const byStatus: Record<number, string> = { 401: 'invalid_client', 403: 'access_denied', 404: 'not_found', 429: 'too_many_requests' };
  return byStatus[status] ?? 'invalid_request';
}

function lifetimeOf(path: string): number {
  return path === WixSimulatorPaths.token ? WixSimulatorLifetimes.clientCredentialsSeconds : WixSimulatorLifetimes.legacyAccessTokenSeconds;
}
