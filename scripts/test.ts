// `npm test`: the typecheck and the lint run beside the test suite instead of before it. Both are
// single-threaded and the suite leaves a core idle now and then, so on a 2-core machine this
// saves most of their half minute. The suite's output streams as it runs; theirs is printed
// after it, under a heading, and any of the three failing fails `npm test`.
import { spawn } from 'node:child_process';

interface Outcome {
  name: string;
  code: number;
  output: string;
}

function run(name: string, command: string, args: string[], streamed: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: streamed ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => resolve({ name, code: 1, output: `${output}${error.message}\n` }));
    child.on('close', (code, signal) => resolve({ name, code: code ?? (signal ? 1 : 0), output }));
  });
}

const checks = [run('typecheck (tsc --noEmit)', 'tsc', ['--noEmit'], false), run('lint (eslint .)', 'eslint', ['.'], false)];
const suite = await run('test suite (vitest run)', 'vitest', ['run', ...process.argv.slice(2)], true);
const outcomes = [...(await Promise.all(checks)), suite];

for (const { name, code, output } of outcomes.slice(0, 2)) {
  console.log(`\n${name}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`}`);
  if (output.trim()) console.log(output.trimEnd());
}
const failed = outcomes.filter((o) => o.code !== 0).map((o) => o.name);
if (failed.length > 0) console.error(`\nnpm test failed: ${failed.join(', ')}`);
process.exitCode = failed.length > 0 ? 1 : 0;
