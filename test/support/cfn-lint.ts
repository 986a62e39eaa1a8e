import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../../infra/local/stack';

/**
 * Runs AWS's CloudFormation linter, the Python `cfn-lint` (the npm package of that name is
 * something else), the way a user's pipeline would run it on our packaged template.
 */

/** The settings the tests lint with: which rules are ignored, and why. */
export const CFN_LINT_CONFIG = join(PROJECT_ROOT, '.cfnlintrc');

/** One finding, as `cfn-lint --format json` prints it (the fields the tests read). */
export interface CfnLintFinding {
  Rule: { Id: string };
  Level: 'Error' | 'Warning' | 'Informational' | string;
  Message: string;
  Location: { Path?: Array<string | number>; Start?: { LineNumber: number } };
}

export interface CfnLintOptions {
  /** The command to run; default `cfn-lint` from PATH. */
  command?: string;
  /** The .cfnlintrc to use; default {@link CFN_LINT_CONFIG}. */
  configFile?: string;
}

/**
 * Lints one template file and returns every finding that the config file does not ignore.
 *
 * @throws Error saying how to install cfn-lint when it is not on PATH, or with its output when it
 *   fails in a way that is not a finding (a bad config file, a template it cannot read).
 */
export async function cfnLint(templateFile: string, options: CfnLintOptions = {}): Promise<CfnLintFinding[]> {
  const command = options.command ?? 'cfn-lint';
  const args = ['--format', 'json', '--config-file', options.configFile ?? CFN_LINT_CONFIG, '--', templateFile];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(command, args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string; code?: string | number };
    if (failure.code === 'ENOENT') {
      throw new Error(`${command} is not installed (or not on PATH): install AWS's CloudFormation linter with \`pip install cfn-lint\``, { cause: error });
    }
    // Findings make cfn-lint exit non-zero (2 errors, 4 warnings, 8 informational, or-ed together).
    if (typeof failure.code !== 'number' || failure.stdout === undefined || !failure.stdout.trim().startsWith('[')) {
      throw new Error(`${command} failed (exit ${String(failure.code)}):\n${failure.stdout ?? ''}\n${failure.stderr ?? ''}`, { cause: error });
    }
    stdout = failure.stdout;
  }
  return JSON.parse(stdout) as CfnLintFinding[];
}

/** A finding as one readable line, for test failures. */
export function describeFinding(finding: CfnLintFinding): string {
  const where = finding.Location.Path?.join('/') ?? `line ${finding.Location.Start?.LineNumber ?? '?'}`;
  return `${finding.Rule.Id} (${finding.Level}) ${finding.Message} at ${where}`;
}
