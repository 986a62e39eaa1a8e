import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { defaultProvider } from '../../../../lib/runtime/lambda-credentials';

const VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_PROFILE',
] as const;

let saved: Partial<Record<(typeof VARIABLES)[number], string>>;

beforeEach(() => {
  saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of VARIABLES) delete process.env[name];
});

afterEach(() => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

/** A container credentials endpoint on loopback, as a runtime that serves them from one runs it. */
async function containerEndpoint(answer: (headers: IncomingHttpHeaders) => { status: number; body: unknown }) {
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(request.headers);
    const { status, body } = answer(request.headers);
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/credentials`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the bundles\u2019 credential chain (lib/runtime/lambda-credentials, in place of the SDK\u2019s)', () => {
  it('reads the execution role\u2019s credentials from the environment, as Lambda sets them', async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'ASIAENVENVENVENV0001', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-session' });

    await expect(defaultProvider()()).resolves.toMatchObject({ accessKeyId: 'ASIAENVENVENVENV0001', secretAccessKey: 'env-secret', sessionToken: 'env-session' });
  });

  it('reads the environment on every call, so a provider built before the variables were set still finds them', async () => {
    const provider = defaultProvider();
    await expect(provider()).rejects.toThrow(/no AWS credentials/);

    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'ASIALATELATELATE0001', AWS_SECRET_ACCESS_KEY: 'late-secret' });

    await expect(provider()).resolves.toMatchObject({ accessKeyId: 'ASIALATELATELATE0001' });
  });

  it('falls back to a container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) when the environment has no keys, with its authorization token', async () => {
    const endpoint = await containerEndpoint(() => ({
      status: 200,
      body: { AccessKeyId: 'ASIACONTAINERCONT001', SecretAccessKey: 'container-secret', Token: 'container-session', Expiration: new Date(Date.now() + 3_600_000).toISOString() },
    }));
    try {
      Object.assign(process.env, { AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.url, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-auth' });

      const credentials = await defaultProvider()();

      expect(credentials).toMatchObject({ accessKeyId: 'ASIACONTAINERCONT001', secretAccessKey: 'container-secret', sessionToken: 'container-session' });
      expect(credentials.expiration).toBeInstanceOf(Date);
      expect(endpoint.requests.map((headers) => headers['authorization'])).toEqual(['container-auth']);
    } finally {
      await endpoint.close();
    }
  });

  it('asks the container endpoint once while its credentials are fresh, and the same provider asks again once they near expiry', async () => {
    const issuedAt = Date.now();
    const endpoint = await containerEndpoint(() => ({
      status: 200,
      // Six minutes: fresh now, inside the SDK's five-minute refresh window two minutes later.
      body: { AccessKeyId: 'ASIACONTAINERCONT001', SecretAccessKey: 's', Token: 't', Expiration: new Date(issuedAt + 6 * 60_000).toISOString() },
    }));
    const now = jest.spyOn(Date, 'now');
    try {
      process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] = endpoint.url;
      const provider = defaultProvider();

      await Promise.all([provider(), provider()]);
      await provider();
      expect(endpoint.requests).toHaveLength(1);

      now.mockReturnValue(issuedAt + 2 * 60_000);
      await provider();
      expect(endpoint.requests).toHaveLength(2);
    } finally {
      now.mockRestore();
      await endpoint.close();
    }
  });

  it('prefers the environment to a container endpoint, as the SDK\u2019s chain does', async () => {
    const endpoint = await containerEndpoint(() => ({ status: 500, body: {} }));
    try {
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'ASIAENVENVENVENV0002', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.url });

      await expect(defaultProvider()()).resolves.toMatchObject({ accessKeyId: 'ASIAENVENVENVENV0002' });
      expect(endpoint.requests).toEqual([]);
    } finally {
      await endpoint.close();
    }
  });

  it('fails the call with a CredentialsProviderError naming the variables when there are none, and a key id without its secret is none', async () => {
    process.env['AWS_ACCESS_KEY_ID'] = 'ASIAHALFHALFHALF0001';
    process.env['AWS_PROFILE'] = 'developer';

    const error = (await defaultProvider()().catch((caught: unknown) => caught)) as Error & { tryNextLink?: boolean };

    expect(error.name).toBe('CredentialsProviderError');
    expect(error.message).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI/);
    expect(error.message).not.toContain('ASIAHALFHALFHALF0001');
    expect(error.tryNextLink).toBe(false);
  });

  it('fails, without serving anything, when the container endpoint refuses', async () => {
    const endpoint = await containerEndpoint(() => ({ status: 403, body: { Code: 'AccessDenied', Message: 'no' } }));
    try {
      process.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] = endpoint.url;

      await expect(defaultProvider()()).rejects.toThrow();
      expect(endpoint.requests.length).toBeGreaterThan(0);
    } finally {
      await endpoint.close();
    }
  });
});
