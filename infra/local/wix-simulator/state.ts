/**
 * The simulator's state: apps, installations, and every code and token it issued, with the
 * rules that say whether Wix accepts one now (installed in its epoch, not rotated away, not
 * expired). The grants (./grants) read and change it; nothing here knows HTTP.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { IssuedKind, recordIssued } from '../issued-values';
import type { IssuedTokenDescription, SimulatedApp } from './contract';

export interface Installation {
  appId: string;
  instanceId: string;
  siteId: string;
  installed: boolean;
  /** Bumped on every uninstall: anything issued in an earlier epoch is dead for good. */
  epoch: number;
}

/** Anything issued for one installation, in one epoch of it. */
interface IssuedFor {
  appId: string;
  instanceId: string;
  epoch: number;
}

export interface IssuedCode extends IssuedFor {
  issuedAt: number;
  used: boolean;
}

export interface IssuedRefreshToken extends IssuedFor {
  /** False once rotated away. */
  current: boolean;
  /** Issue order (see {@link IssuedTokenDescription.seq}). */
  seq: number;
}

export interface IssuedAccessToken extends IssuedFor {
  iat: number;
  exp: number;
  /** Issue order (see {@link IssuedTokenDescription.seq}). */
  seq: number;
}

export interface IssuedFrontendToken {
  appId: string;
  instanceId: string | undefined;
  epoch: number | undefined;
  iat: number;
  exp: number;
  active: boolean;
}

export class SimulatorState {
  readonly issued = { accessTokens: 0, refreshTokens: 0, codes: 0 };
  readonly apps = new Map<string, string>();
  readonly codes = new Map<string, IssuedCode>();
  readonly refreshTokens = new Map<string, IssuedRefreshToken>();
  readonly accessTokens = new Map<string, IssuedAccessToken>();
  readonly frontendTokens = new Map<string, IssuedFrontendToken>();
  private readonly installs = new Map<string, Installation>();
  private readonly secrets = new Set<string>();
  /** Issue order of tokens, for {@link describeToken}. */
  private tokenSeq = 0;

  constructor(readonly now: () => number) {}

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
    const existing = this.installation(appId, id);
    if (existing) {
      existing.installed = true;
    } else {
      this.installs.set(installKey(appId, id), { appId, instanceId: id, siteId: randomUUID(), installed: true, epoch: 1 });
    }
    return id;
  }

  uninstall(appId: string, instanceId: string): void {
    const installation = this.installation(appId, instanceId);
    if (!installation?.installed) return;
    installation.installed = false;
    installation.epoch += 1;
  }

  isInstalled(appId: string, instanceId: string): boolean {
    return this.installation(appId, instanceId)?.installed ?? false;
  }

  issueCode(appId: string, instanceId: string): string {
    this.install(appId, instanceId);
    const installation = this.installation(appId, instanceId) as Installation;
    const code = this.mint(IssuedKind.AuthorizationCode, randomBytes(24).toString('base64url'));
    this.codes.set(code, { appId, instanceId, epoch: installation.epoch, issuedAt: this.now(), used: false });
    this.issued.codes += 1;
    return code;
  }

  issueFrontendToken(appId: string, instanceId: string | undefined, options: { active?: boolean; lifetimeSeconds?: number } = {}): string {
    const token = this.mint(IssuedKind.AccessToken, `OauthNG.JWS.${randomBytes(48).toString('base64url')}`);
    const iat = Math.floor(this.now() / 1000);
    const epoch = instanceId === undefined ? undefined : this.installation(appId, instanceId)?.epoch;
    const exp = iat + (options.lifetimeSeconds ?? 4 * 3600);
    this.frontendTokens.set(token, { appId, instanceId, epoch, iat, exp, active: options.active ?? true });
    return token;
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
    return { kind: 'access', appId, instanceId, seq, epoch, live: this.accessTokenLive(access), iat, exp };
  }

  installation(appId: string, instanceId: string): Installation | undefined {
    return this.installs.get(installKey(appId, instanceId));
  }

  /** The installation something was issued for, while it is installed in that same epoch. */
  liveInstallation(issued: IssuedFor): Installation | undefined {
    const installation = this.installation(issued.appId, issued.instanceId);
    return installation?.installed && installation.epoch === issued.epoch ? installation : undefined;
  }

  accessTokenLive(issued: IssuedAccessToken): boolean {
    return this.now() < issued.exp * 1000 && this.liveInstallation(issued) !== undefined;
  }

  /** Whether Wix's app authentication passes: a known app and its current secret. */
  authenticates(clientId: string, clientSecret: string): boolean {
    const secret = this.apps.get(clientId);
    return secret !== undefined && secret === clientSecret;
  }

  newAccessToken(installation: Installation, lifetimeSeconds: number): string {
    const token = this.mint(IssuedKind.AccessToken, `OauthNG.JWS.${randomBytes(48).toString('base64url')}`);
    const iat = Math.floor(this.now() / 1000);
    const { appId, instanceId, epoch } = installation;
    this.accessTokens.set(token, { appId, instanceId, epoch, iat, exp: iat + lifetimeSeconds, seq: ++this.tokenSeq });
    this.issued.accessTokens += 1;
    return token;
  }

  newRefreshToken(installation: Installation): string {
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

  private requireApp(appId: string): void {
    if (!this.apps.has(appId)) throw new Error(`unknown app: ${appId}`);
  }
}

function installKey(appId: string, instanceId: string): string {
  return `${appId}\u0000${instanceId}`;
}

function requireText(value: unknown, name: string): void {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
}
