import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { Dependency, ErrorCategory, ServiceError } from '../../../../lib/errors';
import { describeError, httpFailureOf } from '../../../../lib/http';
import { InvokeErrorName } from '../../../../lib/tokens/errors';
import { toInvokeError } from '../../../../lib/tokens/invoke-errors';
import { toContractError } from '../../../../lib/tokens/invoke-guard';
import { failureOf } from '../../../../lib/tokens/refresh-failure';
import { FailureClass } from '../../../../lib/tokens/refresh-summary';
import { WixErrorKind, WixOAuthError, type WixOperation } from '../../../../lib/wix';

/**
 * Issue 16: the one sorting of errors. Every concrete error class lib exports is found by walking
 * the modules' exports (a new class is picked up without touching this file), built, and run
 * through the three mappers, which must agree with its category.
 */

const LIB = join(__dirname, '../../../../lib');

type ErrorClass = abstract new (...args: never[]) => ServiceError;

function libModules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return libModules(path);
    // Only the modules that define an error class: loading all of lib drags in its SDK clients.
    return entry.name.endsWith('.ts') && /class \w+ extends \w*Error\b/.test(readFileSync(path, 'utf8')) ? [path] : [];
  });
}

function exportedErrorClasses(): Map<ErrorClass, string> {
  const found = new Map<ErrorClass, string>();
  for (const path of libModules(LIB)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exports = require(path) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value !== 'function' || !(value.prototype instanceof ServiceError)) continue;
      if (!found.has(value as ErrorClass)) found.set(value as ErrorClass, `${relative(LIB, path)} ${name}`);
    }
  }
  return found;
}

const key = { appId: 'a', instanceId: 'i' };
const OPERATIONS: readonly WixOperation[] = ['authorization_code', 'refresh_token', 'client_credentials', 'token_info'];

/**
 * Instances of classes whose category depends on their arguments (one per case); every other
 * class is built with placeholder arguments, which is enough to read its category.
 */
function samplesOf(cls: ErrorClass): ServiceError[] {
  const build = cls as unknown as new (...args: unknown[]) => ServiceError;
  if (cls === (WixOAuthError as unknown)) {
    return Object.values(WixErrorKind).flatMap((kind) => OPERATIONS.map((operation) => new WixOAuthError(kind, 'WIX_X', 'failed', { operation })));
  }
  if (cls.prototype instanceof WixOAuthError) {
    // (message, details), or (code, message, details) for WixUnavailableError.
    return OPERATIONS.map((operation) => (build.length === 3 ? new build('WIX_X', 'failed', { operation }) : new build('failed', { operation })));
  }
  if (cls.name === 'InstallStateError') return ['missing', 'invalid', 'expired', 'used', 'other_browser'].map((reason) => new build(reason));
  return [new build(key.appId, 'placeholder', 'placeholder')];
}

/** The abstract bases lib exports. */
const ABSTRACT = new Set(['InvokeError', 'ReasonedError', 'RefusalError']);

const classes = exportedErrorClasses();
const cases = [...classes].flatMap(([cls, where]) => {
  if (ABSTRACT.has(cls.name)) return []; // only their subclasses are thrown
  return samplesOf(cls).map((error): [string, ServiceError] => [`${where} (${error.code}, ${error.category})`, error]);
});

const HTTP_STATUS: Record<ErrorCategory, number> = {
  refused: 400,
  gone: 410,
  rejected: 502,
  conflict: 409,
  unavailable: 503,
  misconfigured: 503,
  internal: 500,
};

function invokeNameOf(error: ServiceError): string {
  switch (error.category) {
    case ErrorCategory.Refused:
      return InvokeErrorName.InvalidRequest;
    case ErrorCategory.Gone:
      return InvokeErrorName.InstanceUninstalled;
    case ErrorCategory.Rejected:
      return InvokeErrorName.WixRejected;
    case ErrorCategory.Unavailable:
      return error.dependency === Dependency.Wix ? InvokeErrorName.WixUnavailable : InvokeErrorName.ServiceUnavailable;
    default:
      return InvokeErrorName.ServiceUnavailable;
  }
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string; attributes: Record<string, unknown> }> = [];
  const write = (level: string) => (message: string, attributes: Record<string, unknown> = {}) => lines.push({ level, message, attributes });
  return { lines, info: write('info'), warn: write('warn'), error: write('error') };
}

describe('error categories', () => {
  it('finds the error classes lib exports, every one of them with a category', () => {
    const names = [...classes.keys()].map((cls) => cls.name);
    // A floor, so a broken walk cannot pass by finding nothing.
    expect(names).toEqual(expect.arrayContaining(['StoreUnavailableError', 'SecretsUnavailableError', 'DecryptionError', 'WixGrantInvalidError', 'TokenUnavailableError', 'RouteNotFoundError']));
    for (const [, error] of cases) expect(Object.values(ErrorCategory)).toContain(error.category);
  });

  it.each(cases)('%s: the HTTP mapper answers its category', (_where, error) => {
    const failure = httpFailureOf(error);
    expect(failure.status).toBe(error.httpStatus ?? HTTP_STATUS[error.category]);
    if (error.category === ErrorCategory.Refused) expect(failure.status).toBeLessThan(500);
    else expect(failure.status).toBeGreaterThanOrEqual(error.category === ErrorCategory.Conflict || error.category === ErrorCategory.Gone ? 400 : 500);
    expect(failure.code).toBe(error.category === ErrorCategory.Internal ? 'INTERNAL_ERROR' : error.code);
  });

  it.each(cases)('%s: the invoke mapper answers its category', (_where, error) => {
    const logger = recordingLogger();
    const answered = toContractError(toInvokeError(error), logger, {});
    expect(answered.name).toBe(invokeNameOf(error));
    // Only an internal error is the guard's to log as a failure; every other one is a documented answer.
    expect(logger.lines.map((line) => line.message)).toEqual([error.category === ErrorCategory.Internal ? 'invoke failed' : 'invoke refused']);
  });

  it.each(cases)("%s: refresh's failure classifier agrees with its category", (_where, error) => {
    if (error.category === ErrorCategory.Internal || error.dependency === undefined) {
      // A bug, or a refusal of no dependency's: not a refresh failure to count.
      expect(() => failureOf(error)).toThrow(error);
      return;
    }
    // Any error of a dependency is a counted failure: a new one never aborts a sweep.
    const outcome = failureOf(error);
    expect(outcome).toMatchObject({ status: 'failed', code: error.code, needsReauth: false });
    const failure = (outcome as { failure: string }).failure;
    expect(Object.values(FailureClass)).toContain(failure);
    if (error.dependency === Dependency.Store) expect([FailureClass.Store, FailureClass.Conflict, FailureClass.RotatedTokenLost]).toContain(failure);
    if (error.dependency === Dependency.Secrets) expect(failure).toBe(FailureClass.Secrets);
    if (error.dependency === Dependency.Crypto) expect(failure).toBe(FailureClass.Decryption);
    if (error.category === ErrorCategory.Unavailable && error.dependency === Dependency.Wix) expect(failure).toBe(FailureClass.Transient);
  });
});

describe('an error without a category', () => {
  class UnsortedError extends ServiceError {
    constructor() {
      super('UNSORTED', 'a new error nobody gave a category');
    }
  }
  const foreign = new TypeError('Cannot read properties of undefined (reading "OauthNG.JWS.secret")');

  it.each([
    ['a ServiceError subclass that declares none', new UnsortedError()],
    ['a foreign error', foreign],
    ['a thrown string', 'OauthNG.JWS.secret'],
  ])('%s is internal: a generic 500 and a generic ServiceUnavailable', (_name, error) => {
    expect(httpFailureOf(error)).toMatchObject({ status: 500, code: 'INTERNAL_ERROR', level: 'error' });
    expect(httpFailureOf(error).message).not.toContain('OauthNG');

    const logger = recordingLogger();
    const answered = toContractError(toInvokeError(error), logger, { function: 'mint' });
    expect(answered).toMatchObject({ name: InvokeErrorName.ServiceUnavailable, message: 'internal error' });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'error', message: 'invoke failed' });

    expect(() => failureOf(error)).toThrow();
  });

  it('logs a foreign error by its name only', () => {
    const logger = recordingLogger();
    toContractError(toInvokeError(foreign), logger, {});
    expect(logger.lines[0]?.attributes).toEqual({ error: { name: 'TypeError' } });
    expect(describeError(foreign)).toEqual({ errorName: 'TypeError' });
    expect(JSON.stringify(logger.lines)).not.toContain('OauthNG');
  });
});

describe('lib/http', () => {
  it('imports no error class from lib/tokens, lib/store, lib/secrets or lib/crypto (it maps by category)', () => {
    const dir = join(LIB, 'http');
    for (const file of readdirSync(dir)) {
      const source = readFileSync(join(dir, file), 'utf8');
      expect({ file, imports: source.match(/from '\.\.\/(tokens|store|secrets|crypto|wix)[^']*'/g) ?? [] }).toEqual({ file, imports: [] });
    }
  });
});
