import { LambdaClient } from '@aws-sdk/client-lambda';

import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../infra/local/dynamodb-local';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../infra/local/stack';
import type { WixSimulator } from '../../infra/local/wix-simulator';
import { auditText } from './log-audit';

/**
 * The local stack an end-to-end file runs against (test/e2e): every port free, not the developer's
 * shell (no real Wix app, no WIX_API_URL: the simulator), serverless-offline's output audited for
 * leaked values and handed to `onOutput`, and a Lambda client that does not retry.
 */
export async function startE2eStack(
  options: Omit<LocalStackOptions, 'ports' | 'env' | 'onOutput'>,
  onOutput: (text: string) => void,
): Promise<{ stack: LocalStack; simulator: WixSimulator; lambda: LambdaClient }> {
  const stack = await startLocalStack({
    ports: { http: 0, lambda: 0, secrets: 0, wix: 0, dynamodb: 0 },
    env: {},
    ...options,
    onOutput: (text) => {
      onOutput(text);
      auditText('serverless-offline', text);
    },
  });
  if (stack.simulator === undefined) throw new Error('the stack started without the Wix simulator');
  const lambda = new LambdaClient({ endpoint: stack.urls.lambda, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  return { stack, simulator: stack.simulator, lambda };
}
