import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { recordSecretString } from './issued-values';

/**
 * A loopback stand-in for AWS Secrets Manager, speaking its JSON 1.1 protocol
 * (`POST /`, `X-Amz-Target: secretsmanager.<Operation>`), so the real SDK client reaches it through
 * `endpoint` or `AWS_ENDPOINT_URL_SECRETS_MANAGER` with any dummy credentials. Signatures are not checked.
 *
 * Supports GetSecretValue, CreateSecret, PutSecretValue and DescribeSecret, with AWSCURRENT /
 * AWSPREVIOUS staging as in AWS. Only SecretString secrets.
 */
export interface SecretsManagerStandIn {
  /** Base URL, e.g. `http://127.0.0.1:4566`: the SDK's `endpoint`. */
  url: string;
  /** Stops listening and closes open keep-alive connections. */
  stop(): Promise<void>;
  /** Creates the secret, or adds a version that becomes AWSCURRENT (the old one AWSPREVIOUS); returns the new version id. */
  putSecret(name: string, value: string): string;
  /** Requests per operation, failed ones included (e.g. `calls.GetSecretValue`); the object is updated in place. */
  calls: Record<string, number>;
  /**
   * The distinct `User-Agent` headers requests came with, in order of first appearance. The SDK's
   * names the Node it runs on (`... lang/js md/nodejs#22.23.3 api/secrets-manager#...`).
   */
  userAgents: string[];
  /** Sets every count in `calls` back to zero. */
  resetCalls(): void;
  /** While on, every request is answered 503 ServiceUnavailable. */
  setUnavailable(on: boolean): void;
  /**
   * Fails the next `n` requests with the given error type (default `InternalServiceError`, status 500;
   * any other type answers 400, as AWS does for client-side errors such as `ThrottlingException`).
   */
  failNext(n: number, type?: string): void;
}

/** Options for {@link startSecretsManagerStandIn}. */
export interface SecretsManagerStandInOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Secrets to create at start, each with one AWSCURRENT version. */
  secrets?: Array<{ name: string; value: string }>;
}

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const MAX_BODY_BYTES = 1024 * 1024;
const JSON_1_1 = 'application/x-amz-json-1.1';

interface StoredVersion {
  versionId: string;
  value: string;
  createdAt: Date;
  stages: Set<string>;
}

interface StoredSecret {
  name: string;
  arn: string;
  description?: string;
  createdAt: Date;
  lastChangedAt: Date;
  versions: Map<string, StoredVersion>;
}

/** An error answered in the AWS JSON shape. */
class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Input = Record<string, unknown>;
type Operation = (input: Input) => Record<string, unknown>;

/**
 * Starts the stand-in on loopback.
 *
 * @example
 * const sm = await startSecretsManagerStandIn({ secrets: [{ name: 'wix/app', value: demo.secretString }] });
 * const client = new SecretsManagerClient(standInClientConfig(sm.url));
 */
export async function startSecretsManagerStandIn(options: SecretsManagerStandInOptions = {}): Promise<SecretsManagerStandIn> {
  const secrets = new Map<string, StoredSecret>();
  const calls: Record<string, number> = {};
  const userAgents: string[] = [];
  let unavailable = false;
  let failures: { remaining: number; type: string } = { remaining: 0, type: 'InternalServiceError' };

  function find(secretId: unknown): StoredSecret {
    if (typeof secretId !== 'string' || secretId === '') throw new AwsError('InvalidParameterException', 'SecretId is required.');
    const byName = secrets.get(secretId);
    if (byName) return byName;
    for (const secret of secrets.values()) {
      // A full ARN, or a partial one without the random suffix.
      if (secret.arn === secretId || secret.arn.startsWith(`${secretId}-`)) return secret;
    }
    throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }

  function create(name: string, description?: string): StoredSecret {
    const at = new Date();
    const secret: StoredSecret = {
      name,
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`,
      createdAt: at,
      lastChangedAt: at,
      versions: new Map(),
      ...(description === undefined ? {} : { description }),
    };
    secrets.set(name, secret);
    return secret;
  }

  /** Adds a version, moving the stages it takes from the versions that held them, as AWS does. */
  function addVersion(secret: StoredSecret, value: string, versionId: string, stages: string[]): StoredVersion {
    const existing = secret.versions.get(versionId);
    if (existing) {
      if (existing.value === value) return existing;
      throw new AwsError('ResourceExistsException', `A version with VersionId ${versionId} already exists with a different value.`);
    }
    recordSecretString(value);
    const version: StoredVersion = { versionId, value, createdAt: new Date(), stages: new Set() };
    for (const stage of stages) {
      const holder = [...secret.versions.values()].find((candidate) => candidate.stages.has(stage));
      holder?.stages.delete(stage);
      if (stage === CURRENT && holder) {
        for (const other of secret.versions.values()) other.stages.delete(PREVIOUS);
        holder.stages.add(PREVIOUS);
      }
      version.stages.add(stage);
    }
    secret.versions.set(versionId, version);
    secret.lastChangedAt = version.createdAt;
    return version;
  }

  function putSecret(name: string, value: string): string {
    const secret = secrets.get(name) ?? create(name);
    return addVersion(secret, value, randomUUID(), [CURRENT]).versionId;
  }

  const operations: Record<string, Operation> = {
    GetSecretValue(input) {
      const secret = find(input.SecretId);
      const versionId = optionalString(input, 'VersionId');
      const stage = optionalString(input, 'VersionStage');
      let version: StoredVersion | undefined;
      if (versionId !== undefined) {
        version = secret.versions.get(versionId);
        if (!version || (stage !== undefined && !version.stages.has(stage))) {
          throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
        }
      } else {
        const label = stage ?? CURRENT;
        version = [...secret.versions.values()].find((candidate) => candidate.stages.has(label));
        if (!version) {
          throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${label}`);
        }
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        SecretString: version.value,
        VersionStages: [...version.stages],
        CreatedDate: epochSeconds(version.createdAt),
      };
    },

    CreateSecret(input) {
      const name = input.Name;
      if (typeof name !== 'string' || !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
        throw new AwsError('InvalidParameterException', 'Name must be 1-512 characters of A-Z, a-z, 0-9, /_+=.@-');
      }
      if (input.SecretBinary !== undefined) throw new AwsError('InvalidRequestException', 'The stand-in supports SecretString only.');
      if (secrets.has(name)) throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      const secretString = optionalString(input, 'SecretString');
      const secret = create(name, optionalString(input, 'Description'));
      if (secretString === undefined) return { ARN: secret.arn, Name: secret.name };
      const version = addVersion(secret, secretString, optionalString(input, 'ClientRequestToken') ?? randomUUID(), [CURRENT]);
      return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId };
    },

    PutSecretValue(input) {
      const secret = find(input.SecretId);
      if (input.SecretBinary !== undefined) throw new AwsError('InvalidRequestException', 'The stand-in supports SecretString only.');
      const secretString = optionalString(input, 'SecretString');
      if (secretString === undefined) throw new AwsError('InvalidParameterException', 'SecretString is required.');
      const stages = input.VersionStages === undefined ? [CURRENT] : input.VersionStages;
      if (!Array.isArray(stages) || stages.length === 0 || !stages.every((stage) => typeof stage === 'string' && stage !== '')) {
        throw new AwsError('InvalidParameterException', 'VersionStages must be a non-empty list of labels.');
      }
      const version = addVersion(secret, secretString, optionalString(input, 'ClientRequestToken') ?? randomUUID(), stages as string[]);
      return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: [...version.stages] };
    },

    DescribeSecret(input) {
      const secret = find(input.SecretId);
      const versionIdsToStages: Record<string, string[]> = {};
      for (const version of secret.versions.values()) {
        if (version.stages.size > 0) versionIdsToStages[version.versionId] = [...version.stages];
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        ...(secret.description === undefined ? {} : { Description: secret.description }),
        CreatedDate: epochSeconds(secret.createdAt),
        LastChangedDate: epochSeconds(secret.lastChangedAt),
        VersionIdsToStages: versionIdsToStages,
      };
    },
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = request.headers['x-amz-target'];
    const operation = typeof target === 'string' && target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : undefined;
    if (operation !== undefined) calls[operation] = (calls[operation] ?? 0) + 1;
    const userAgent = request.headers['user-agent'];
    if (typeof userAgent === 'string' && !userAgents.includes(userAgent)) userAgents.push(userAgent);

    try {
      const body = await readBody(request);
      if (unavailable) throw new AwsError('ServiceUnavailable', 'The stand-in is set unavailable.', 503);
      if (failures.remaining > 0) {
        failures.remaining -= 1;
        const status = failures.type === 'InternalServiceError' ? 500 : 400;
        throw new AwsError(failures.type, `Injected failure (${failures.type}).`, status);
      }
      if (request.method !== 'POST' || operation === undefined) {
        throw new AwsError('UnknownOperationException', 'Expected POST / with X-Amz-Target: secretsmanager.<Operation>.');
      }
      const run = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
      if (!run) throw new AwsError('UnknownOperationException', `The stand-in does not support ${operation}.`);
      send(response, 200, run(parseInput(body)));
    } catch (error) {
      const awsError = error instanceof AwsError ? error : new AwsError('InternalServiceError', 'The stand-in failed.', 500);
      send(response, awsError.status, { __type: awsError.type, message: awsError.message }, awsError.type);
    }
  }

  for (const { name, value } of options.secrets ?? []) putSecret(name, value);

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    calls,
    userAgents,
    putSecret,
    resetCalls() {
      for (const key of Object.keys(calls)) delete calls[key];
    },
    setUnavailable(on) {
      unavailable = on;
    },
    failNext(n, type = 'InternalServiceError') {
      failures = { remaining: n, type };
    },
    stop() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** SDK client settings that reach the stand-in: region, endpoint and dummy credentials. */
export function standInClientConfig(url: string): {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return { region: REGION, endpoint: url, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Keep draining past the limit so the error can still be answered on this connection.
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new AwsError('InvalidRequestException', 'Request body too large.', 413));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', reject);
  });
}

function parseInput(body: string): Input {
  if (body.trim() === '') return {};
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch {
    throw new AwsError('SerializationException', 'The request body is not JSON.');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AwsError('SerializationException', 'The request body is not a JSON object.');
  }
  return input as Input;
}

function optionalString(input: Input, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AwsError('InvalidParameterException', `${field} must be a string.`);
  return value;
}

function send(response: ServerResponse, status: number, body: Record<string, unknown>, errorType?: string): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': JSON_1_1,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }),
  });
  response.end(text);
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}
