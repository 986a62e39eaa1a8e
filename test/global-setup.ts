import { JavaUnavailableError, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from './support/dynamodb-local';

/** Where global-teardown finds what this started (both run in jest's main process). */
export const DYNAMODB_LOCAL_HANDLE = Symbol.for('wix-token-service.test.dynamodb-local');

type GlobalWithHandle = typeof globalThis & { [DYNAMODB_LOCAL_HANDLE]?: DynamoDbLocal };

/**
 * Starts the services the whole suite shares; see test/support for what each one does.
 *
 * DynamoDB Local: one JVM on a free loopback port (never 8000, which `npm start` uses); its endpoint
 * reaches the test workers through process.env, which they inherit. A run of unit tests only
 * (`jest test/unit`) skips it, and without Java the unit tests still run: only the integration
 * tests, which need the endpoint, then fail with a message saying so.
 */
export default async function globalSetup(globalConfig: { testPathPatterns?: { patterns?: string[] } }): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const patterns = globalConfig.testPathPatterns?.patterns ?? [];
  if (patterns.length > 0 && patterns.every((pattern) => /(^|\/)test\/unit(\/|$)/.test(pattern))) return;

  let dynamoDb: DynamoDbLocal;
  try {
    dynamoDb = await startDynamoDbLocal();
  } catch (error) {
    if (!(error instanceof JavaUnavailableError)) throw error;
    process.stderr.write(`\n${error.message}: integration tests will fail, unit tests still run.\n`);
    return;
  }
  (globalThis as GlobalWithHandle)[DYNAMODB_LOCAL_HANDLE] = dynamoDb;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamoDb.endpoint;
  process.env.AWS_REGION = LOCAL_REGION;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}
