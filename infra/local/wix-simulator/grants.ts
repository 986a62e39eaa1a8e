/**
 * The grant rules: what `/oauth/access` (authorization code, refresh token), `/oauth2/token`
 * (client credentials), Token Info and the app instance route answer for a parsed request,
 * judged on {@link SimulatorState}. HTTP checks (method, content type, size) happen before.
 */
import { randomUUID } from 'node:crypto';

import { WixSimulatorLifetimes, WixSimulatorPaths } from './contract';
import { failReply, tokenReply, type OAuthFailure, type Reply, type WixErrorShape } from './replies';
import type { Installation, IssuedAccessToken, IssuedFrontendToken, SimulatorState } from './state';

/** The options that change what a grant answers (see WixSimulatorOptions). */
export interface GrantRules {
  errorShape: WixErrorShape;
  legacyExpiresIn: boolean;
  rotateRefreshTokens: boolean;
  tokenInfoAsStrings: boolean;
}

type GrantOutcome = { ok: true; body: Record<string, unknown> } | { ok: false; failure: OAuthFailure };

export class Grants {
  constructor(
    private readonly state: SimulatorState,
    private readonly rules: GrantRules,
  ) {}

  /** The answer of a token endpoint (`path`) to a JSON object body. */
  answer(path: string, body: Record<string, unknown>): Reply {
    if (path === WixSimulatorPaths.tokenInfo) return this.tokenInfo(body);
    const outcome = path === WixSimulatorPaths.legacyAccess ? this.legacyGrant(body) : this.clientCredentialsGrant(body);
    return outcome.ok ? tokenReply(outcome.body) : failReply(this.rules.errorShape, outcome.failure);
  }

  /**
   * GET /apps/v1/instance: the one authenticated Wix API route (issue 13), for clients' wixFetch.
   * Answers only for a live access token sent bare in `Authorization`; 401 otherwise.
   */
  appInstance(authorization: string | undefined): Reply {
    const description = this.state.describeToken(authorization ?? '');
    if (description?.kind !== 'access' || !description.live) {
      return { kind: 'json', status: 401, body: { message: 'UNAUTHENTICATED', details: {} } };
    }
    return { kind: 'json', status: 200, body: { instance: { instanceId: description.instanceId, appId: description.appId } } };
  }

  private legacyGrant(body: Record<string, unknown>): GrantOutcome {
    const grantType = body.grant_type;
    if (grantType === undefined) return invalidRequest('grant_type');
    if (grantType === 'authorization_code') return this.authorizationCode(body);
    if (grantType === 'refresh_token') return this.refreshToken(body);
    return unsupportedGrant();
  }

  private authorizationCode(body: Record<string, unknown>): GrantOutcome {
    const fields = this.authenticated(body, 'code');
    if (!fields.ok) return fields;
    const [clientId, code] = fields.values;

    const issued = this.state.codes.get(code);
    if (!issued || issued.appId !== clientId) return invalidGrant('The authorization code is invalid');
    if (issued.used) return invalidGrant('The authorization code was already used');
    if (this.state.now() - issued.issuedAt >= WixSimulatorLifetimes.codeMs) return invalidGrant('The authorization code has expired');
    const installation = this.state.liveInstallation(issued);
    if (!installation) return invalidGrant('The app is no longer installed on this site');

    issued.used = true;
    const refreshToken = this.state.newRefreshToken(installation);
    return { ok: true, body: { ...this.legacyAccessToken(installation), refresh_token: refreshToken } };
  }

  private refreshToken(body: Record<string, unknown>): GrantOutcome {
    const fields = this.authenticated(body, 'refresh_token');
    if (!fields.ok) return fields;
    const [clientId, refreshToken] = fields.values;

    const issued = this.state.refreshTokens.get(refreshToken);
    if (!issued || issued.appId !== clientId || !issued.current) return invalidGrant('The refresh token is invalid');
    const installation = this.state.liveInstallation(issued);
    if (!installation) return invalidGrant('The app is no longer installed on this site');

    let next = refreshToken;
    if (this.rules.rotateRefreshTokens) {
      issued.current = false;
      next = this.state.newRefreshToken(installation);
    }
    return { ok: true, body: { ...this.legacyAccessToken(installation), refresh_token: next } };
  }

  private clientCredentialsGrant(body: Record<string, unknown>): GrantOutcome {
    const grantType = body.grant_type;
    if (grantType === undefined) return invalidRequest('grant_type');
    if (grantType !== 'client_credentials') return unsupportedGrant();
    const fields = this.authenticated(body, 'instance_id');
    if (!fields.ok) return fields;
    const [clientId, instanceId] = fields.values;

    const installation = this.state.installation(clientId, instanceId);
    if (!installation?.installed) return invalidGrant('The app is not installed on this instance');
    const lifetime = WixSimulatorLifetimes.clientCredentialsSeconds;
    const accessToken = this.state.newAccessToken(installation, lifetime);
    return { ok: true, body: { access_token: accessToken, token_type: 'Bearer', expires_in: lifetime } };
  }

  /** The body's `client_id`, `client_secret` and `field`, once the app authenticates: `[clientId, field]`. */
  private authenticated(
    body: Record<string, unknown>,
    field: string,
  ): { ok: true; values: [clientId: string, value: string] } | { ok: false; failure: OAuthFailure } {
    const values: string[] = [];
    for (const name of ['client_id', 'client_secret', field]) {
      const value = body[name];
      if (typeof value !== 'string' || value === '') return invalidRequest(name);
      values.push(value);
    }
    const [clientId, clientSecret, value] = values as [string, string, string];
    if (!this.state.authenticates(clientId, clientSecret)) {
      return { ok: false, failure: { status: 401, error: 'invalid_client', description: 'Client authentication failed' } };
    }
    return { ok: true, values: [clientId, value] };
  }

  private legacyAccessToken(installation: Installation): Record<string, unknown> {
    const lifetime = WixSimulatorLifetimes.legacyAccessTokenSeconds;
    const accessToken = this.state.newAccessToken(installation, lifetime);
    return this.rules.legacyExpiresIn ? { access_token: accessToken, expires_in: lifetime } : { access_token: accessToken };
  }

  private tokenInfo(body: Record<string, unknown>): Reply {
    const token = body.token;
    if (typeof token !== 'string' || token === '') return failReply(this.rules.errorShape, invalidRequest('token').failure);
    const frontend = this.state.frontendTokens.get(token);
    if (frontend) return this.frontendTokenInfo(frontend);
    const issued = this.state.accessTokens.get(token);
    // Unknown tokens get RFC 7662's answer for any token the server does not vouch for.
    if (!issued) return tokenReply({ active: this.rules.tokenInfoAsStrings ? 'false' : false });
    return this.appTokenInfo(issued);
  }

  private appTokenInfo(issued: IssuedAccessToken): Reply {
    const active = this.state.accessTokenLive(issued);
    const info = { active, subjectType: 'APP', subjectId: issued.appId, exp: issued.exp, iat: issued.iat };
    const siteId = this.state.installation(issued.appId, issued.instanceId)?.siteId;
    return this.infoReply(info, { clientId: issued.appId, siteId, instanceId: issued.instanceId });
  }

  private frontendTokenInfo(issued: IssuedFrontendToken): Reply {
    const { appId, instanceId, epoch } = issued;
    const installed = instanceId === undefined || (epoch !== undefined && this.state.liveInstallation({ appId, instanceId, epoch }) !== undefined);
    const active = issued.active && this.state.now() < issued.exp * 1000 && installed;
    const info = { active, subjectType: 'USER', subjectId: randomUUID(), exp: issued.exp, iat: issued.iat, clientId: appId };
    return this.infoReply(info, instanceId === undefined ? {} : { instanceId });
  }

  /** Token Info's answer, its values as strings like the docs sample unless told otherwise. */
  private infoReply(info: { active: boolean; exp: number; iat: number } & Record<string, unknown>, rest: Record<string, unknown>): Reply {
    if (!this.rules.tokenInfoAsStrings) return tokenReply({ ...info, ...rest });
    return tokenReply({ ...info, ...rest, active: String(info.active), exp: String(info.exp), iat: String(info.iat) });
  }
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
