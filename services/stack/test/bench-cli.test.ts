import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runProcess } from './run-process.ts';

const CLI = fileURLToPath(new URL('../src/bench-cli.ts', import.meta.url));
const bench = (...args: string[]) => runProcess(process.execPath, ['--import', 'tsx', CLI, ...args]);

describe('npm run bench: the live-system benchmarks parse their options', () => {
  it.each(['intake', 'scale', 'chaos', 'load', 'overhead', 'tracing', 'llama', 'live'])(
    '%s --help prints its usage with every default and runs nothing',
    async (name) => {
      const r = await bench(name, '--help');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^npm run bench -- ${name} \\[--`));
      expect(r.stdout).toContain('[--out bench-out/');
    },
    30_000,
  );

  it('refuses an unknown option with one line and the usage, exit 2, and a missing value likewise', async () => {
    const unknown = await bench('overhead', '--calsl', '10');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^bench overhead: Unknown option '--calsl'/);
    expect(unknown.stderr).toContain('npm run bench -- overhead [--calls 2000]');
    const missing = await bench('live', '--programs');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^bench live: Option '--programs <value>' argument missing/);
  }, 30_000);
});
