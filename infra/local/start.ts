/**
 * `npm start`: the whole service on this machine, with no AWS account (see ./stack.ts).
 *
 * DynamoDB Local (port 8000, -sharedDb), a Secrets Manager stand-in seeded with the app, the Wix
 * simulator (unless WIX_API_URL is set) and serverless-offline (HTTP API on 3000, Lambda invoke
 * on 3002). The app is WIX_APP_ID / WIX_APP_SECRET / WIX_WEBHOOK_PUBLIC_KEY when set, else a
 * demo app. Ctrl-C, or any part failing to start, stops everything this started.
 * LOCAL_VERBOSE=1 shows serverless-offline's start-up output too.
 */
import { LOCAL_REGION } from './dynamodb-local';
import { startLocalStack, type LocalStack } from './stack';

// The AWS SDK warns about Node 20 on every client; the local stack's output is easier to read without it.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

async function main(): Promise<void> {
  const starting = new AbortController();
  let started: Promise<LocalStack> | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // During start-up the abort makes startLocalStack stop what it started before it settles.
    starting.abort();
    try {
      const stack = await started?.catch(() => undefined);
      await stack?.stop();
    } catch (error) {
      console.error((error as Error).message);
    }
    process.exit(code);
  };
  process.on('SIGINT', () => {
    console.log('\nstopping…');
    void stopAll(0);
  });
  process.on('SIGTERM', () => void stopAll(0));

  let stack: LocalStack;
  try {
    started = startLocalStack({
      signal: starting.signal,
      // After start-up serverless-offline's output is the functions' logs: keep it flowing.
      onOutput: (text, stream, ready) => {
        if (ready || process.env['LOCAL_VERBOSE']) (stream === 'stderr' ? process.stderr : process.stdout).write(text);
      },
    });
    stack = await started;
  } catch (error) {
    if (stopping) return; // Ctrl-C during start-up: stopAll is already at work
    console.error(`npm start failed: ${(error as Error).message}`);
    process.exit(1);
  }
  void stack.exited.then(() => {
    if (!stopping) {
      console.error('serverless-offline exited; stopping everything');
      void stopAll(1);
    }
  });
  printBanner(stack);
}

function printBanner(stack: LocalStack): void {
  const { app, urls, functionNames } = stack;
  const lines = [
    '',
    'Wix Token Service is running locally.',
    '',
    `  App URL        ${urls.public}/install`,
    `  Redirect URL   ${urls.public}/oauth/callback`,
    `  Webhook URL    ${urls.public}/webhooks`,
    `  Lambda invoke  ${urls.lambda}  (functions ${functionNames.mint}, ${functionNames.refresh}, ${functionNames.status})`,
    `  Wix API        ${urls.wixApi}${stack.simulator ? '  (simulator)' : ''}`,
    `  Wix installer  ${urls.wixInstaller}`,
    `  DynamoDB       ${urls.dynamodb}  (table ${stack.tableName}, -sharedDb, in memory)`,
    `  Secrets        ${urls.secrets}  (secret ${stack.secretName})`,
    '',
    app.demo ? `  Demo app       id ${app.appId}  secret ${app.appSecret}` : `  Your app       id ${app.appId} (secret from WIX_APP_SECRET, not printed)`,
    '',
    'Try it:',
    `  curl -si '${urls.public}/install?token=demo-install-token' | grep -i location`,
    `  # follow that Location in a browser (or with curl) and the simulator sends you back to the callback`,
    `  curl -s -X POST ${urls.lambda}/2015-03-31/functions/${functionNames.mint}/invocations -d '{"instanceId":"<an installed instance id>"}'`,
    `  # or with the AWS CLI, v1 or v2 (fileb:// sends the payload as it is in both; AWS_PAGER= stops v2's pager):`,
    `  printf '%s' '{"instanceId":"<an installed instance id>"}' > payload.json`,
    `  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_PAGER= aws lambda invoke --region ${LOCAL_REGION} \\`,
    `      --endpoint-url ${urls.lambda} --function-name ${functionNames.mint} --payload fileb://payload.json answer.json && cat answer.json`,
    `  # the operator's CLI against this stack:`,
    `  AWS_ENDPOINT_URL_DYNAMODB=${urls.dynamodb} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \\`,
    `      TOKENS_TABLE=${stack.tableName} WIX_APP_IDS=${app.appId} npm run ops -- status --state active`,
    `  # keys, rewrap and import also read the app's secret (and import calls Wix):`,
    `  AWS_ENDPOINT_URL_DYNAMODB=${urls.dynamodb} AWS_ENDPOINT_URL_SECRETS_MANAGER=${urls.secrets} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \\`,
    `      TOKENS_TABLE=${stack.tableName} WIX_APP_IDS=${app.appId} APP_SECRET_PREFIX=${stack.secretName.slice(0, stack.secretName.length - app.appId.length)} WIX_API_URL=${urls.wixApi} npm run ops -- keys`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));
}

void main();
