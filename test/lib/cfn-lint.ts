// Runs cfn-lint (AWS's CloudFormation linter, a Python program) on template files, in one
// process: it takes seconds to start, so every template of a test file goes in one call.
import { spawnSync } from 'node:child_process';

export interface CfnLintFinding {
  file: string;
  rule: string;
  level: 'Error' | 'Warning' | 'Informational';
  message: string;
  /** Where in the template, e.g. Resources/ControlPlaneLockStep0825679C/DependsOn/2. */
  path: string;
}

const INSTALL_HINT = 'install it with `pip install cfn-lint==1.51.0` (Python 3.9+; the project machines have 1.51 under Python 3.11) and put `cfn-lint` on PATH';

/** The installed version, or an error that says what to install (the suite fails without it, it never skips). */
export function cfnLintVersion(): string {
  const result = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : (result.stderr || result.stdout).trim();
    throw new Error(`cfn-lint is needed by this test and did not run (${why}): ${INSTALL_HINT}`);
  }
  return result.stdout.trim();
}

/**
 * Lints the files with every rule, the experimental ones too, for `region`. Returns every
 * finding; the caller decides which it accepts.
 */
export function cfnLint(files: string[], region: string): CfnLintFinding[] {
  cfnLintVersion();
  const result = spawnSync('cfn-lint', ['--format', 'json', '--include-experimental', '--regions', region, '--', ...files], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  let raw: Array<{ Filename: string; Level: CfnLintFinding['level']; Message: string; Rule: { Id: string }; Location: { Path: Array<string | number> | null } }>;
  try {
    raw = JSON.parse(result.stdout) as typeof raw;
  } catch {
    throw new Error(`cfn-lint exited ${result.status} without a JSON report:\n${result.stderr}\n${result.stdout.slice(0, 2_000)}`);
  }
  return raw.map((f) => ({ file: f.Filename, rule: f.Rule.Id, level: f.Level, message: f.Message, path: (f.Location.Path ?? []).join('/') }));
}
