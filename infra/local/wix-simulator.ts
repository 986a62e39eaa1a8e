/**
 * A loopback stand-in for Wix's OAuth endpoints and installer pages.
 *
 * It speaks the protocol described in the shared protocol notes (wix-oauth.md): the legacy
 * `/oauth/access` grants, client credentials on `/oauth2/token`, Token Info, and the two
 * installer pages of the legacy install flow. Tests, benchmarks and `npm start` use it; it
 * depends on nothing but `node:http`, `node:crypto` and ./issued-values (where it records what it
 * issues for the tests' log audit, when that is on) and never logs.
 *
 * ```
 *   app under test ──POST /oauth/access────────▶ ┌──────────────┐
 *                  ──POST /oauth2/token────────▶ │ WixSimulator │  state: apps, installs,
 *                  ──POST /oauth2/token-info───▶ │              │  codes, refresh and
 *   browser        ──GET /installer/install────▶ │              │  access tokens, faults,
 *                  ──POST /installer/install───▶ │              │  (Allow, with consentPage)
 *                  ──GET /installer/close-window▶└──────────────┘  call counters
 * ```
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { IssuedKind, recordIssued } from './issued-values';

/** An app the simulator knows: its id (the OAuth `client_id`) and its secret. */
export interface SimulatedApp {
  appId: string;
  appSecret: string;
}

/** How {@link startWixSimulator} sets the simulator up. Every field is optional. */
export interface WixSimulatorOptions {
  /** Port to listen on; default 0, a random free port. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Apps known from the start. */
  apps?: SimulatedApp[];
  /** Clock in epoch milliseconds, default `Date.now`; tests pass a fake one to expire codes and tokens. */
  now?: () => number;
  /** Delay added to every response, in milliseconds; default 0. */
  latencyMs?: number;
  /** Source of randomness for probabilistic faults; default `mulberry32(42)`, so runs are reproducible. */
  random?: () => number;
  /** Shape of error bodies: RFC 6749 `{error, error_description}` (default) or Wix's `{message, details}`. */
  errorShape?: WixErrorShape;
  /** Add `expires_in: 300` to legacy grant answers; default false (Wix's samples show only two fields). */
  legacyExpiresIn?: boolean;
  /** The refresh_token grant hands back a new refresh token and retires the old one; default false (same one). */
  rotateRefreshTokens?: boolean;
  /** Token Info values as strings (`"true"`, `"1715096067"`) like the docs sample; default true. */
  tokenInfoAsStrings?: boolean;
  /**
   * The installer asks for consent first, as Wix's does: GET `/installer/install` answers a page
   * whose Allow button posts the form back, and only that POST issues the code and redirects.
   * Default false: the GET redirects at once (for fetch-driven tests and curl).
   */
  consentPage?: boolean;
}

/** Shape of the simulator's error bodies. */
export type WixErrorShape = 'rfc6749' | 'wix';

/** Live call counters: all calls, per URL path and per `grant_type` found in the body. */
export interface CallCounts {
  total: number;
  byPath: Record<string, number>;
  byGrant: Record<string, number>;
}

/**
 * What a fault does to a matching request.
 *
 * - `status`: answer with `status` and an optional `body`/`contentType`; the default body is an
 *   HTML error page for 5xx and a JSON error (from `error`/`errorDescription`) otherwise.
 * - `rate-limit`: 429, with `Retry-After: retryAfter` when given.
 * - `hang`: accept the request and never answer (until the client aborts or `stop()`).
 * - `reset`: destroy the socket without answering.
 * - `html`: 200 with an HTML body.
 * - `not-json`: 200, `application/json`, a body that does not parse.
 * - `empty-body`: 200 with no body.
 * - `missing-access-token`, `mistyped-access-token` (`12345`), `expires-in-string` (`"14400"`),
 *   `expires-in-missing`, `expires-in-invalid` (`"soon"`), `extra-fields`: a real, successful
 *   answer with that one defect.
 */
export type FaultKind =
  | 'status'
  | 'rate-limit'
  | 'hang'
  | 'reset'
  | 'html'
  | 'not-json'
  | 'missing-access-token'
  | 'mistyped-access-token'
  | 'expires-in-string'
  | 'expires-in-missing'
  | 'expires-in-invalid'
  | 'extra-fields'
  | 'empty-body';

/**
 * A fault to inject into matching requests; see {@link FaultKind}.
 *
 * Faults that only damage a successful answer (`missing-access-token`, `mistyped-access-token`,
 * `expires-in-*`, `extra-fields`) still perform the grant (a code is consumed, tokens are
 * issued), and they are used up only when they met a successful answer. Every other fault
 * answers instead of the endpoint: nothing is consumed or issued.
 */
export interface Fault {
  kind: FaultKind;
  /**
   * Only requests to this path. Default: every token endpoint (`/oauth/access`,
   * `/oauth2/token`, `/oauth2/token-info`); for the `*-access-token` and `expires-in-*`
   * kinds, only the two grant endpoints, since Token Info answers carry neither field.
   */
  path?: string;
  /** Only requests whose body has this `grant_type`. */
  grant?: string;
  /** Apply to the next N matching calls (default 1). Mutually exclusive with `rate`. */
  times?: number;
  /** Probability (0..1) of applying to each matching call, until `clearFaults()`. */
  rate?: number;
  /** HTTP status for `status` faults (default 500). */
  status?: number;
  /** Body for `status` and `rate-limit` faults, replacing the default one. */
  body?: string;
  /** Content-Type for a custom `body`. */
  contentType?: string;
  /** `Retry-After` for `rate-limit`: seconds, or an HTTP date string. */
  retryAfter?: number | string;
  /** The `error` of a default JSON error body (default derived from the status). */
  error?: string;
  /** The `error_description` of a default JSON error body. */
  errorDescription?: string;
}

/** A running simulator. Every method acts at once, on in-memory state. */
export interface WixSimulator {
  /** Base URL, e.g. `http://127.0.0.1:51234`; use it as both the Wix API and installer URL. */
  readonly url: string;
  /** Closes the server and destroys every open socket, hanging requests included. Idempotent. */
  stop(): Promise<void>;
  /** Adds an app, or replaces the secret of a known one. */
  addApp(app: SimulatedApp): void;
  /**
   * Rotates an app's secret: the old one is refused from now on, issued tokens stay valid.
   * @throws Error when the app is unknown.
   */
  setAppSecret(appId: string, appSecret: string): void;
  /**
   * Marks an instance installed (a random GUID when none is given) and returns its id.
   * @throws Error when the app is unknown.
   */
  install(appId: string, instanceId?: string): string;
  /** Removes the app from the instance: its codes, refresh tokens and access tokens die, for good. */
  uninstall(appId: string, instanceId: string): void;
  /** Whether the app is installed on the instance now. */
  isInstalled(appId: string, instanceId: string): boolean;
  /**
   * What the installer does on consent: installs the instance if needed and issues a code.
   * @throws Error when the app is unknown.
   */
  issueCode(appId: string, instanceId: string): string;
  /**
   * A token as a Wix frontend or dashboard extension carries it (a site owner's or visitor's),
   * for elevation tests: Token Info vouches for it while it lives and its app is installed on the
   * instance. `instanceId` undefined: a token issued outside any site (Token Info names no
   * instance). `active: false`: Token Info answers inactive (expired or revoked).
   */
  issueFrontendToken(appId: string, instanceId: string | undefined, options?: { active?: boolean; lifetimeSeconds?: number }): string;
  /** Changes the delay added to every response, in milliseconds. */
  setLatency(ms: number): void;
  /**
   * Adds a fault; faults are checked in the order they were added, the first match applies.
   * @throws TypeError or RangeError when the fault is malformed.
   */
  injectFault(fault: Fault): void;
  /** Removes every fault, probabilistic ones included. */
  clearFaults(): void;
  /** Live call counters, faulted calls included. */
  readonly calls: CallCounts;
  /** Sets every counter in {@link calls} back to zero (the same object stays live). */
  resetCalls(): void;
  /** The `access_token` values received by `/installer/close-window`, in order. */
  readonly closedWindows: string[];
  /** How many access tokens, new refresh tokens and codes were issued. */
  readonly issued: { accessTokens: number; refreshTokens: number; codes: number };
  /** Every secret-ish value this simulator ever issued (codes, access tokens, refresh tokens) so tests can assert none of them leaks into logs or errors. */
  issuedSecrets(): string[];
  /** The refresh tokens Wix would accept for the instance now (none once uninstalled), for consistency checks. */
  liveRefreshTokens(appId: string, instanceId: string): string[];
  /**
   * What the simulator knows of a token it issued (read-only, for model-based tests): its kind,
   * instance, issue order (`seq`, one counter for every token issued) and whether Wix accepts it now.
   */
  describeToken(token: string): IssuedTokenDescription | undefined;
}

/** What {@link WixSimulator.describeToken} tells about an issued token; never the token itself. */
export interface IssuedTokenDescription {
  kind: 'access' | 'refresh';
  appId: string;
  instanceId: string;
  /** Issue order across every token the simulator issued, from 1. */
  seq: number;
  /** The install epoch it was issued in (bumped by every uninstall). */
  epoch: number;
  /** Wix accepts it now: installed in its epoch, not rotated away, not expired. */
  live: boolean;
  /** Access tokens only: issue and expiry time, epoch seconds. */
  iat?: number;
  exp?: number;
}

/** The authenticated Wix API route the simulator serves (issue 13). */
export const APP_INSTANCE_PATH = '/apps/v1/instance';

/** The routes the simulator serves. */
export const WixSimulatorPaths = {
  legacyAccess: '/oauth/access',
  token: '/oauth2/token',
  tokenInfo: '/oauth2/token-info',
  install: '/installer/install',
  /** Older form of the installer URL, same parameters. */
  legacyConsent: '/app-oauth-installation/consent',
  closeWindow: '/installer/close-window',
} as const;

/** The lifetimes the simulator enforces, as wix-oauth.md documents them. */
export const WixSimulatorLifetimes = {
  codeMs: 10 * 60 * 1000,
  legacyAccessTokenSeconds: 300,
  clientCredentialsSeconds: 14_400,
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

/**
 * Starts a simulator listening on loopback.
 * @throws Error when the port cannot be bound.
 * @see https://dev.wix.com/docs/rest/app-management/oauth-2/introduction
 */
export async function startWixSimulator(options: WixSimulatorOptions = {}): Promise<WixSimulator> {
  const simulator = new Simulator(options);
  await simulator.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return simulator;
}

// ---------------------------------------------------------------------------------------------

const GRANT_PATHS: ReadonlySet<string> = new Set([WixSimulatorPaths.legacyAccess, WixSimulatorPaths.token]);
const TOKEN_PATHS: ReadonlySet<string> = new Set([...GRANT_PATHS, WixSimulatorPaths.tokenInfo]);
const INSTALL_PATHS: ReadonlySet<string> = new Set([WixSimulatorPaths.install, WixSimulatorPaths.legacyConsent]);
const GRANT_ONLY_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  'missing-access-token',
  'mistyped-access-token',
  'expires-in-string',
  'expires-in-missing',
  'expires-in-invalid',
]);
const SHAPE_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>([...GRANT_ONLY_FAULTS, 'extra-fields']);
const FAULT_KINDS: ReadonlySet<string> = new Set<FaultKind>([
  ...SHAPE_FAULTS,
  'status',
  'rate-limit',
  'hang',
  'reset',
  'html',
  'not-json',
  'empty-body',
]);
const MAX_BODY_BYTES = 64 * 1024;
const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';

interface Installation {
  appId: string;
  instanceId: string;
  siteId: string;
  installed: boolean;
  /** Bumped on every uninstall: anything issued in an earlier epoch is dead for good. */
  epoch: number;
}

interface IssuedCode {
  appId: string;
  instanceId: string;
  epoch: number;
  issuedAt: number;
  used: boolean;
}

interface IssuedRefreshToken {
  appId: string;
  instanceId: string;
  epoch: number;
  /** False once rotated away. */
  current: boolean;
  /** Issue order (see {@link IssuedTokenDescription.seq}). */
  seq: number;
}

interface IssuedAccessToken {
  appId: string;
  instanceId: string;
  epoch: number;
  iat: number;
  exp: number;
  /** Issue order (see {@link IssuedTokenDescription.seq}). */
  seq: number;
}

interface IssuedFrontendToken {
  appId: string;
  instanceId: string | undefined;
  epoch: number | undefined;
  iat: number;
  exp: number;
  active: boolean;
}

interface FaultEntry {
  fault: Fault;
  /** Calls left for a `times` fault; undefined for a `rate` fault. */
  remaining: number | undefined;
}

/** An OAuth error answer, before it is given a shape. */
interface OAuthFailure {
  status: number;
  error: string;
  description: string;
  /** The request field at fault, for Wix's validationError shape. */
  field?: string;
}

type Reply =
  | { kind: 'json'; status: number; body: Record<string, unknown>; headers?: Record<string, string> }
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> };

type GrantOutcome = { ok: true; body: Record<string, unknown> } | { ok: false; failure: OAuthFailure };

class Simulator implements WixSimulator {
  url = '';
  readonly calls: CallCounts = { total: 0, byPath: {}, byGrant: {} };
  readonly closedWindows: string[] = [];
  readonly issued = { accessTokens: 0, refreshTokens: 0, codes: 0 };

  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly apps = new Map<string, string>();
  private readonly installs = new Map<string, Installation>();
  private readonly codes = new Map<string, IssuedCode>();
  private readonly refreshTokens = new Map<string, IssuedRefreshToken>();
  private readonly accessTokens = new Map<string, IssuedAccessToken>();
  private readonly frontendTokens = new Map<string, IssuedFrontendToken>();
  private readonly secrets = new Set<string>();
  private faults: FaultEntry[] = [];
  /** Issue order of tokens, for {@link describeToken}. */
  private tokenSeq = 0;
  private latencyMs: number;
  private stopping: Promise<void> | undefined;

  private readonly now: () => number;
  private readonly random: () => number;
  private readonly errorShape: WixErrorShape;
  private readonly legacyExpiresIn: boolean;
  private readonly rotateRefreshTokens: boolean;
  private readonly tokenInfoAsStrings: boolean;
  private readonly consentPage: boolean;

  constructor(options: WixSimulatorOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? mulberry32(42);
    this.errorShape = options.errorShape ?? 'rfc6749';
    this.legacyExpiresIn = options.legacyExpiresIn ?? false;
    this.rotateRefreshTokens = options.rotateRefreshTokens ?? false;
    this.tokenInfoAsStrings = options.tokenInfoAsStrings ?? true;
    this.consentPage = options.consentPage ?? false;
    this.latencyMs = checkLatency(options.latencyMs ?? 0);
    for (const app of options.apps ?? []) this.addApp(app);

    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${hostPart}:${address.port}`;
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.server.close(() => resolve());
      // close() waits for open connections; hanging and keep-alive ones must not hold it up.
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    });
    return this.stopping;
  }

  // --- state -----------------------------------------------------------------------------------

  addApp(app: SimulatedApp): void {
    requireText(app.appId, 'appId');
    requireText(app.appSecret, 'appSecret');
    this.apps.set(app.appId, app.appSecret);
  }

  setAppSecret(appId: string, appSecret: string): void {
    this.requireApp(appId);
    requireText(appSecret, 'appSecret');
    this.apps.set(appId, appSecret);
  }

  install(appId: string, instanceId?: string): string {
    this.requireApp(appId);
    const id = instanceId ?? randomUUID();
    requireText(id, 'instanceId');
    const existing = this.installs.get(installKey(appId, id));
    if (existing) {
      existing.installed = true;
    } else {
      this.installs.set(installKey(appId, id), { appId, instanceId: id, siteId: randomUUID(), installed: true, epoch: 1 });
    }
    return id;
  }

  uninstall(appId: string, instanceId: string): void {
    const installation = this.installs.get(installKey(appId, instanceId));
    if (!installation?.installed) return;
    installation.installed = false;
    installation.epoch += 1;
  }

  isInstalled(appId: string, instanceId: string): boolean {
    return this.installs.get(installKey(appId, instanceId))?.installed ?? false;
  }

  issueCode(appId: string, instanceId: string): string {
    this.install(appId, instanceId);
    const installation = this.installs.get(installKey(appId, instanceId)) as Installation;
    const code = this.mint(IssuedKind.AuthorizationCode, randomBytes(24).toString('base64url'));
    this.codes.set(code, { appId, instanceId, epoch: installation.epoch, issuedAt: this.now(), used: false });
    this.issued.codes += 1;
    return code;
  }

  issueFrontendToken(appId: string, instanceId: string | undefined, options: { active?: boolean; lifetimeSeconds?: number } = {}): string {
    const token = this.mint(IssuedKind.AccessToken, `OauthNG.JWS.${randomBytes(48).toString('base64url')}`);
    const iat = Math.floor(this.now() / 1000);
    const epoch = instanceId === undefined ? undefined : this.installs.get(installKey(appId, instanceId))?.epoch;
    const exp = iat + (options.lifetimeSeconds ?? 4 * 3600);
    this.frontendTokens.set(token, { appId, instanceId, epoch, iat, exp, active: options.active ?? true });
    return token;
  }

  setLatency(ms: number): void {
    this.latencyMs = checkLatency(ms);
  }

  injectFault(fault: Fault): void {
    if (!FAULT_KINDS.has(fault.kind)) throw new TypeError(`unknown fault kind: ${String(fault.kind)}`);
    if (fault.times !== undefined && fault.rate !== undefined) throw new TypeError('a fault takes times or rate, not both');
    if (fault.rate !== undefined && !(fault.rate >= 0 && fault.rate <= 1)) throw new RangeError('fault rate must be within 0..1');
    if (fault.times !== undefined && !(Number.isInteger(fault.times) && fault.times > 0)) {
      throw new RangeError('fault times must be a positive integer');
    }
    if (fault.status !== undefined && !(Number.isInteger(fault.status) && fault.status >= 200 && fault.status <= 599)) {
      throw new RangeError('fault status must be an HTTP status code');
    }
    this.faults.push({ fault: { ...fault }, remaining: fault.rate === undefined ? (fault.times ?? 1) : undefined });
  }

  clearFaults(): void {
    this.faults = [];
  }

  resetCalls(): void {
    this.calls.total = 0;
    for (const key of Object.keys(this.calls.byPath)) delete this.calls.byPath[key];
    for (const key of Object.keys(this.calls.byGrant)) delete this.calls.byGrant[key];
  }

  issuedSecrets(): string[] {
    return [...this.secrets];
  }

  liveRefreshTokens(appId: string, instanceId: string): string[] {
    const live: string[] = [];
    for (const [token, issued] of this.refreshTokens) {
      if (issued.appId === appId && issued.instanceId === instanceId && issued.current && this.liveInstallation(issued)) live.push(token);
    }
    return live;
  }

  describeToken(token: string): IssuedTokenDescription | undefined {
    const refresh = this.refreshTokens.get(token);
    if (refresh) {
      const { appId, instanceId, seq, epoch } = refresh;
      return { kind: 'refresh', appId, instanceId, seq, epoch, live: refresh.current && this.liveInstallation(refresh) !== undefined };
    }
    const access = this.accessTokens.get(token);
    if (!access) return undefined;
    const { appId, instanceId, seq, epoch, iat, exp } = access;
    const live = this.now() < exp * 1000 && this.liveInstallation(access) !== undefined;
    return { kind: 'access', appId, instanceId, seq, epoch, live, iat, exp };
  }

  // --- HTTP ------------------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('x-wix-request-id', randomUUID());
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => this.handle(req, res, tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
  }

  private handle(req: IncomingMessage, res: ServerResponse, rawBody: string | undefined): void {
    const url = new URL(req.url ?? '/', 'http://wix-simulator.invalid');
    const path = url.pathname;
    const body = TOKEN_PATHS.has(path) && req.method === 'POST' ? parseJsonObject(rawBody) : undefined;
    const grant = typeof body?.grant_type === 'string' ? body.grant_type : undefined;
    this.count(path, grant);

    const entry = this.pickFault(path, grant);
    if (entry && !SHAPE_FAULTS.has(entry.fault.kind)) {
      this.useFault(entry);
      this.applyFault(entry.fault, req, res);
      return;
    }

    const reply = this.route(req, url, rawBody, body);
    if (entry && reply.kind === 'json' && reply.status === 200) {
      this.useFault(entry);
      damage(entry.fault.kind, reply.body, path);
    }
    this.later(res, () => send(res, reply));
  }

  private route(req: IncomingMessage, url: URL, rawBody: string | undefined, body: Record<string, unknown> | undefined): Reply {
    const path = url.pathname;
    if (TOKEN_PATHS.has(path)) {
      if (req.method !== 'POST') return this.methodNotAllowed('POST');
      if (rawBody === undefined) return this.fail({ status: 413, error: 'invalid_request', description: 'The request body is too large' });
      if (!isJsonContentType(req.headers['content-type'])) {
        return this.fail({ status: 400, error: 'invalid_request', description: 'Content-Type must be application/json' });
      }
      if (!body) return this.fail({ status: 400, error: 'invalid_request', description: 'The request body must be a JSON object' });
      if (path === WixSimulatorPaths.tokenInfo) return this.tokenInfo(body);
      const outcome = path === WixSimulatorPaths.legacyAccess ? this.legacyGrant(body) : this.clientCredentialsGrant(body);
      return outcome.ok ? tokenReply(outcome.body) : this.fail(outcome.failure);
    }
    if (INSTALL_PATHS.has(path)) {
      if (this.consentPage) {
        // The consent form posts the installer's own query back, form-encoded.
        if (req.method === 'GET') return this.installer(url.searchParams, 'ask');
        if (req.method !== 'POST') return this.methodNotAllowed('GET, POST');
        if (rawBody === undefined) return htmlPage(413, 'Payload too large', 'The consent form is too large.');
        return this.installer(new URLSearchParams(rawBody), 'consented');
      }
      if (req.method !== 'GET') return this.methodNotAllowed('GET');
      return this.installer(url.searchParams, 'consented');
    }
    if (path === WixSimulatorPaths.closeWindow) {
      if (req.method !== 'GET') return this.methodNotAllowed('GET');
      const token = url.searchParams.get('access_token');
      if (!token) return htmlPage(400, 'Bad request', 'access_token is missing.');
      this.closedWindows.push(token);
      return htmlPage(200, 'Installation complete', 'You can close this window.');
    }
    if (path === APP_INSTANCE_PATH) return this.appInstance(req);
    return this.fail({ status: 404, error: 'not_found', description: 'No such endpoint' });
  }

  // --- grants ----------------------------------------------------------------------------------

  private legacyGrant(body: Record<string, unknown>): GrantOutcome {
    const grantType = body.grant_type;
    if (grantType === undefined) return invalidRequest('grant_type');
    if (grantType === 'authorization_code') return this.authorizationCode(body);
    if (grantType === 'refresh_token') return this.refreshToken(body);
    return unsupportedGrant();
  }

  private authorizationCode(body: Record<string, unknown>): GrantOutcome {
    const fields = requireFields(body, ['client_id', 'client_secret', 'code']);
    if (!fields.ok) return fields;
    const [clientId, clientSecret, code] = fields.values;
    const unauthorized = this.authenticate(clientId, clientSecret);
    if (unauthorized) return unauthorized;

    const issued = this.codes.get(code);
    if (!issued || issued.appId !== clientId) return invalidGrant('The authorization code is invalid');
    if (issued.used) return invalidGrant('The authorization code was already used');
    if (this.now() - issued.issuedAt >= WixSimulatorLifetimes.codeMs) return invalidGrant('The authorization code has expired');
    const installation = this.liveInstallation(issued);
    if (!installation) return invalidGrant('The app is no longer installed on this site');

    issued.used = true;
    const refreshToken = this.newRefreshToken(installation);
    return { ok: true, body: { ...this.legacyAccessToken(installation), refresh_token: refreshToken } };
  }

  private refreshToken(body: Record<string, unknown>): GrantOutcome {
    const fields = requireFields(body, ['client_id', 'client_secret', 'refresh_token']);
    if (!fields.ok) return fields;
    const [clientId, clientSecret, refreshToken] = fields.values;
    const unauthorized = this.authenticate(clientId, clientSecret);
    if (unauthorized) return unauthorized;

    const issued = this.refreshTokens.get(refreshToken);
    if (!issued || issued.appId !== clientId || !issued.current) return invalidGrant('The refresh token is invalid');
    const installation = this.liveInstallation(issued);
    if (!installation) return invalidGrant('The app is no longer installed on this site');

    let next = refreshToken;
    if (this.rotateRefreshTokens) {
      issued.current = false;
      next = this.newRefreshToken(installation);
    }
    return { ok: true, body: { ...this.legacyAccessToken(installation), refresh_token: next } };
  }

  private clientCredentialsGrant(body: Record<string, unknown>): GrantOutcome {
    const grantType = body.grant_type;
    if (grantType === undefined) return invalidRequest('grant_type');
    if (grantType !== 'client_credentials') return unsupportedGrant();
    const fields = requireFields(body, ['client_id', 'client_secret', 'instance_id']);
    if (!fields.ok) return fields;
    const [clientId, clientSecret, instanceId] = fields.values;
    const unauthorized = this.authenticate(clientId, clientSecret);
    if (unauthorized) return unauthorized;

    const installation = this.installs.get(installKey(clientId, instanceId));
    if (!installation?.installed) return invalidGrant('The app is not installed on this instance');
    const accessToken = this.newAccessToken(installation, WixSimulatorLifetimes.clientCredentialsSeconds);
    return {
      ok: true,
      body: { access_token: accessToken, token_type: 'Bearer', expires_in: WixSimulatorLifetimes.clientCredentialsSeconds },
    };
  }

  /**
   * GET /apps/v1/instance: the one authenticated Wix API route (issue 13), for clients' wixFetch.
   * Answers only for a live access token sent bare in `Authorization`; 401 otherwise.
   */
  private appInstance(req: IncomingMessage): Reply {
    if (req.method !== 'GET') return this.methodNotAllowed('GET');
    const header = req.headers['authorization'];
    const token = typeof header === 'string' ? header : '';
    const description = this.describeToken(token);
    if (description?.kind !== 'access' || !description.live) {
      return { kind: 'json', status: 401, body: { message: 'UNAUTHENTICATED', details: {} } };
    }
    return { kind: 'json', status: 200, body: { instance: { instanceId: description.instanceId, appId: description.appId } } };
  }

  private tokenInfo(body: Record<string, unknown>): Reply {
    const token = body.token;
    if (typeof token !== 'string' || token === '') return this.fail(invalidRequest('token').failure);
    const frontend = this.frontendTokens.get(token);
    if (frontend) return this.frontendTokenInfo(frontend);
    const issued = this.accessTokens.get(token);
    // Unknown tokens get RFC 7662's answer for any token the server does not vouch for.
    if (!issued) return tokenReply({ active: this.tokenInfoAsStrings ? 'false' : false });
    const active = this.now() < issued.exp * 1000 && this.liveInstallation(issued) !== undefined;
    const info = { active, subjectType: 'APP', subjectId: issued.appId, exp: issued.exp, iat: issued.iat };
    const siteId = this.installs.get(installKey(issued.appId, issued.instanceId))?.siteId;
    const rest = { clientId: issued.appId, siteId, instanceId: issued.instanceId };
    if (!this.tokenInfoAsStrings) return tokenReply({ ...info, ...rest });
    return tokenReply({ ...info, active: String(active), exp: String(info.exp), iat: String(info.iat), ...rest });
  }

  private frontendTokenInfo(issued: IssuedFrontendToken): Reply {
    const installed =
      issued.instanceId === undefined ||
      (issued.epoch !== undefined && this.liveInstallation({ appId: issued.appId, instanceId: issued.instanceId, epoch: issued.epoch }) !== undefined);
    const active = issued.active && this.now() < issued.exp * 1000 && installed;
    const info = { active, subjectType: 'USER', subjectId: randomUUID(), exp: issued.exp, iat: issued.iat, clientId: issued.appId };
    const scoped = issued.instanceId === undefined ? info : { ...info, instanceId: issued.instanceId };
    if (!this.tokenInfoAsStrings) return tokenReply(scoped);
    return tokenReply({ ...scoped, active: String(active), exp: String(info.exp), iat: String(info.iat) });
  }

  private authenticate(clientId: string, clientSecret: string): GrantOutcome | undefined {
    const secret = this.apps.get(clientId);
    if (secret !== undefined && secret === clientSecret) return undefined;
    return { ok: false, failure: { status: 401, error: 'invalid_client', description: 'Client authentication failed' } };
  }

  private liveInstallation(issued: { appId: string; instanceId: string; epoch: number }): Installation | undefined {
    const installation = this.installs.get(installKey(issued.appId, issued.instanceId));
    return installation?.installed && installation.epoch === issued.epoch ? installation : undefined;
  }

  private legacyAccessToken(installation: Installation): Record<string, unknown> {
    const lifetime = WixSimulatorLifetimes.legacyAccessTokenSeconds;
    const accessToken = this.newAccessToken(installation, lifetime);
    return this.legacyExpiresIn ? { access_token: accessToken, expires_in: lifetime } : { access_token: accessToken };
  }

  private newAccessToken(installation: Installation, lifetimeSeconds: number): string {
    const token = this.mint(IssuedKind.AccessToken, `OauthNG.JWS.${randomBytes(48).toString('base64url')}`);
    const iat = Math.floor(this.now() / 1000);
    const { appId, instanceId, epoch } = installation;
    this.accessTokens.set(token, { appId, instanceId, epoch, iat, exp: iat + lifetimeSeconds, seq: ++this.tokenSeq });
    this.issued.accessTokens += 1;
    return token;
  }

  private newRefreshToken(installation: Installation): string {
    const token = this.mint(IssuedKind.RefreshToken, randomBytes(32).toString('base64url'));
    const { appId, instanceId, epoch } = installation;
    this.refreshTokens.set(token, { appId, instanceId, epoch, current: true, seq: ++this.tokenSeq });
    this.issued.refreshTokens += 1;
    return token;
  }

  private mint(kind: IssuedKind, secret: string): string {
    this.secrets.add(secret);
    recordIssued(kind, secret);
    return secret;
  }

  // --- installer -------------------------------------------------------------------------------

  /**
   * The installer: with `ask`, the consent page (an Allow button posting the same parameters
   * back); once consented, installs the instance, issues a code and redirects to `redirectUrl`.
   */
  private installer(params: URLSearchParams, step: 'ask' | 'consented'): Reply {
    const appId = params.get('appId');
    if (!appId || !this.apps.has(appId)) return htmlPage(400, 'Bad request', 'Unknown or missing appId.');
    const target = parseHttpUrl(params.get('redirectUrl'));
    if (!target) return htmlPage(400, 'Bad request', 'redirectUrl must be an absolute http(s) URL.');

    // What the service sent through the browser: the audit looks for these in the logs too.
    recordIssued(IssuedKind.InstallState, params.get('state'));
    recordIssued(IssuedKind.InstallToken, params.get('token'));
    if (step === 'ask') return consentPage(params);
    // instanceId in the query is a simulator-only convenience: the real installer picks the site.
    const instanceId = this.install(appId, params.get('instanceId') || undefined);
    const code = this.issueCode(appId, instanceId);
    target.searchParams.set('code', code);
    const state = params.get('state');
    if (state !== null) target.searchParams.set('state', state);
    target.searchParams.set('instanceId', instanceId);
    return { kind: 'raw', status: 302, body: '', headers: { location: target.href } };
  }

  // --- faults ----------------------------------------------------------------------------------

  private pickFault(path: string, grant: string | undefined): FaultEntry | undefined {
    for (const entry of this.faults) {
      const { fault } = entry;
      if (fault.path !== undefined ? fault.path !== path : !(GRANT_ONLY_FAULTS.has(fault.kind) ? GRANT_PATHS : TOKEN_PATHS).has(path)) {
        continue;
      }
      if (fault.grant !== undefined && fault.grant !== grant) continue;
      if (entry.remaining === undefined ? this.random() < (fault.rate ?? 0) : entry.remaining > 0) return entry;
    }
    return undefined;
  }

  private useFault(entry: FaultEntry): void {
    if (entry.remaining === undefined) return;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.faults = this.faults.filter((other) => other !== entry);
  }

  private applyFault(fault: Fault, req: IncomingMessage, res: ServerResponse): void {
    switch (fault.kind) {
      case 'hang':
        return;
      case 'reset':
        this.later(res, () => req.socket.destroy());
        return;
      case 'html':
        this.later(res, () => send(res, htmlPage(200, 'Wix', 'Something went wrong on our side.')));
        return;
      case 'not-json':
        this.later(res, () => send(res, { kind: 'raw', status: 200, body: '{"access_token": "OauthNG.JWS.', contentType: JSON_TYPE }));
        return;
      case 'empty-body':
        this.later(res, () => send(res, { kind: 'raw', status: 200, body: '', contentType: JSON_TYPE }));
        return;
      case 'rate-limit': {
        const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
        const reply = this.faultReply(fault, 429, headers);
        this.later(res, () => send(res, reply));
        return;
      }
      default: {
        const reply = this.faultReply(fault, fault.status ?? 500, {});
        this.later(res, () => send(res, reply));
      }
    }
  }

  private faultReply(fault: Fault, status: number, headers: Record<string, string>): Reply {
    if (fault.body !== undefined) return { kind: 'raw', status, body: fault.body, contentType: fault.contentType ?? JSON_TYPE, headers };
    if (status >= 500) {
      const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
      return { ...htmlPage(status, title, 'The server could not handle the request.'), headers };
    }
    if (status < 400) return { kind: 'raw', status, body: '', headers };
    const reply = this.fail({
      status,
      error: fault.error ?? defaultError(status),
      description: fault.errorDescription ?? STATUS_CODES[status] ?? 'Error',
    });
    return { ...reply, headers };
  }

  // --- replies ---------------------------------------------------------------------------------

  private fail(failure: OAuthFailure): Reply {
    return { kind: 'json', status: failure.status, body: errorBody(this.errorShape, failure), headers: { 'cache-control': 'no-store' } };
  }

  private methodNotAllowed(allow: string): Reply {
    const reply = this.fail({ status: 405, error: 'method_not_allowed', description: `Use ${allow}` });
    return { ...reply, headers: { ...reply.headers, allow } };
  }

  private count(path: string, grant: string | undefined): void {
    this.calls.total += 1;
    this.calls.byPath[path] = (this.calls.byPath[path] ?? 0) + 1;
    if (grant !== undefined) this.calls.byGrant[grant] = (this.calls.byGrant[grant] ?? 0) + 1;
  }

  /** Runs `action` after the configured latency, unless the client went away or stop() ran. */
  private later(res: ServerResponse, action: () => void): void {
    if (this.latencyMs <= 0) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!res.destroyed) action();
    }, this.latencyMs);
    this.timers.add(timer);
  }

  private requireApp(appId: string): void {
    if (!this.apps.has(appId)) throw new Error(`unknown app: ${appId}`);
  }
}

// --- helpers -----------------------------------------------------------------------------------

function installKey(appId: string, instanceId: string): string {
  return `${appId}\u0000${instanceId}`;
}

function requireText(value: unknown, name: string): void {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
}

function checkLatency(ms: number): number {
  if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError('latency must be a finite number >= 0');
  return ms;
}

function parseJsonObject(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isJsonContentType(header: string | undefined): boolean {
  return header?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

function parseHttpUrl(value: string | null): URL | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function requireFields<const N extends readonly string[]>(
  body: Record<string, unknown>,
  names: N,
): { ok: true; values: { [K in keyof N]: string } } | { ok: false; failure: OAuthFailure } {
  const values: string[] = [];
  for (const name of names) {
    const value = body[name];
    if (typeof value !== 'string' || value === '') return invalidRequest(name);
    values.push(value);
  }
  return { ok: true, values: values as { [K in keyof N]: string } };
}

function invalidRequest(field: string): { ok: false; failure: OAuthFailure } {
  return { ok: false, failure: { status: 400, error: 'invalid_request', description: `${field} is missing or not a string`, field } };
}

function invalidGrant(description: string): GrantOutcome {
  return { ok: false, failure: { status: 400, error: 'invalid_grant', description } };
}

function unsupportedGrant(): GrantOutcome {
  return { ok: false, failure: { status: 400, error: 'unsupported_grant_type', description: 'This endpoint does not support that grant_type' } };
}

function defaultError(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'invalid_client';
    case 403:
      return 'access_denied';
    case 404:
      return 'not_found';
    case 429:
      return 'too_many_requests';
    default:
      return 'invalid_request';
  }
}

function errorBody(shape: WixErrorShape, failure: OAuthFailure): Record<string, unknown> {
  if (shape === 'rfc6749') return { error: failure.error, error_description: failure.description };
  if (failure.field !== undefined) {
    const violation = { field: failure.field, description: failure.description, violatedRule: 'REQUIRED_FIELD', ruleName: 'REQUIRED_FIELD', data: {} };
    return { message: failure.description, details: { validationError: { fieldViolations: [violation] } } };
  }
  return { message: failure.description, details: { applicationError: { code: failure.error, description: failure.description, data: {} } } };
}

function tokenReply(body: Record<string, unknown>): Reply {
  return { kind: 'json', status: 200, body, headers: { 'cache-control': 'no-store' } };
}

function htmlPage(status: number, title: string, text: string): Reply {
  // Only fixed strings go into pages: nothing from the request is echoed.
  const body = `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;
  return { kind: 'raw', status, body, contentType: HTML_TYPE };
}

const CONSENT_FIELDS = ['token', 'appId', 'redirectUrl', 'state', 'instanceId'] as const;

/** The installer's consent page: which app asks, and an Allow button that posts the parameters back. */
function consentPage(params: URLSearchParams): Reply {
  const hidden = CONSENT_FIELDS.flatMap((name) => {
    const value = params.get(name);
    return value === null ? [] : [`<input type="hidden" name="${name}" value="${escapeHtml(value)}">`];
  }).join('');
  const body =
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>Add app to your site</title></head><body><main><h1>Add app to your site</h1>' +
    `<p>App <code>${escapeHtml(params.get('appId') ?? '')}</code> asks to access your site.</p>` +
    `<form method="post">${hidden}<button type="submit" name="decision" value="allow">Allow</button></form></main></body></html>`;
  return { kind: 'raw', status: 200, body, contentType: HTML_TYPE };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** Turns a successful answer into one with the fault's defect. */
function damage(kind: FaultKind, body: Record<string, unknown>, path: string): void {
  const lifetime =
    path === WixSimulatorPaths.token ? WixSimulatorLifetimes.clientCredentialsSeconds : WixSimulatorLifetimes.legacyAccessTokenSeconds;
  switch (kind) {
    case 'missing-access-token':
      delete body.access_token;
      return;
    case 'mistyped-access-token':
      body.access_token = 12345;
      return;
    case 'expires-in-string':
      body.expires_in = String(body.expires_in ?? lifetime);
      return;
    case 'expires-in-missing':
      delete body.expires_in;
      return;
    case 'expires-in-invalid':
      body.expires_in = 'soon';
      return;
    case 'extra-fields':
      body.scope = 'offline_access';
      body.x_simulator_extra = { nested: [1, 2, 3] };
      body.id_token = null;
      return;
    default:
      return;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.headersSent) return;
  const body = reply.kind === 'json' ? JSON.stringify(reply.body) : reply.body;
  const contentType = reply.kind === 'json' ? JSON_TYPE : reply.contentType;
  const headers: Record<string, string | number> = { ...reply.headers, 'content-length': Buffer.byteLength(body) };
  if (contentType !== undefined) headers['content-type'] = contentType;
  res.writeHead(reply.status, headers);
  res.end(body);
}
