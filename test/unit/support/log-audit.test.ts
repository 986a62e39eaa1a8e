import { randomUUID } from 'node:crypto';

import { IssuedKind, recordIssued } from '../../../infra/local/issued-values';
import { createJsonLogger } from '../../../lib/runtime';
import { startWixSimulator } from '../../../infra/local/wix-simulator';
import { auditText, describeLeaks, takeLeaks } from '../../support/log-audit';
import { captureLogger } from '../../support/mint-fixture';

/** A token-looking value recorded as issued, unique per call. */
function issued(kind: IssuedKind): string {
  const value = `OauthNG.JWS.audit-${randomUUID()}`;
  recordIssued(kind, value);
  return value;
}

describe('log audit (issue 8)', () => {
  it('finds an issued value written to process.stderr, naming its kind and source but not the value', () => {
    const token = issued(IssuedKind.AccessToken);

    process.stderr.write(`\u001b[2m(audit self-test, a deliberate leak) ${token}\u001b[0m\n`);
    const leaks = takeLeaks();

    expect(leaks).toEqual([{ kind: 'access token', source: 'process.stderr', test: expect.stringContaining('process.stderr') }]);
    expect(describeLeaks(leaks)).toContain('an issued access token appeared in process.stderr');
    expect(describeLeaks(leaks)).not.toContain(token);
  });

  it('finds an issued value the service logger writes to descriptor 2 (fs.writeSync, lib/runtime/logger)', () => {
    const token = issued(IssuedKind.AccessToken);

    createJsonLogger({ serviceName: 'audit' }).error('audit self-test, a deliberate leak', { token });
    const leaks = takeLeaks();

    expect(leaks).toEqual([{ kind: 'access token', source: 'process.stderr', test: expect.stringContaining('descriptor 2') }]);
  });

  it('finds an issued value in a console call and in a captured handler log line', () => {
    const state = issued(IssuedKind.InstallState);
    const refreshToken = issued(IssuedKind.RefreshToken);

    console.warn('audit self-test, a deliberate leak: %s', state);
    captureLogger().info('a deliberate leak', { refreshToken });
    const kinds = takeLeaks().map((leak) => `${leak.kind} in ${leak.source}`);

    // In band, jest's console also writes to process.stdout: either way both leaks are named.
    expect(kinds).toEqual(expect.arrayContaining(['install state in console.warn', 'refresh token in a handler log line (captureLogger)']));
  });

  it('finds a value printed before it was recorded (fixtures record some values late)', () => {
    const code = `code-${randomUUID()}`;
    auditText('child process output', `exchanging ${code}`);
    expect(takeLeaks()).toEqual([]);

    recordIssued(IssuedKind.AuthorizationCode, code);

    expect(takeLeaks()).toEqual([expect.objectContaining({ kind: 'authorization code', source: 'child process output' })]);
  });

  it('reports a leak once, and ignores values too short to search for', () => {
    const token = issued(IssuedKind.AccessToken);
    recordIssued(IssuedKind.AuthorizationCode, 'short');
    auditText('test', `${token} short`);

    expect(takeLeaks()).toHaveLength(1);
    expect(takeLeaks()).toEqual([]);
  });

  it("records what the Wix simulator issues, so a leaked simulator token is caught", async () => {
    const appId = randomUUID();
    const sim = await startWixSimulator({ apps: [{ appId, appSecret: randomUUID() }] });
    try {
      const code = sim.issueCode(appId, sim.install(appId));

      auditText('test', `oops ${code}`);

      expect(takeLeaks()).toEqual([expect.objectContaining({ kind: 'authorization code' })]);
    } finally {
      await sim.stop();
    }
  });
});
