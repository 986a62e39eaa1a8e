import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EXAMPLES = ['lifecycle-events-rule.yml'];

describe('infra/examples', () => {
  it.each(EXAMPLES)('%s passes cfn-lint with no error or warning', async (file) => {
    const result = await run('cfn-lint', [join(__dirname, '../../../infra/examples', file)]).catch((error: NodeJS.ErrnoException & { stdout?: string }) => {
      if (error.code === 'ENOENT') throw new Error('cfn-lint is not installed: pip install cfn-lint');
      return { stdout: error.stdout ?? String(error) };
    });

    expect(result.stdout).toBe('');
  }, 60_000);
});
