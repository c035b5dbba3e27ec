import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

/** CHROMIUM_PATH, Debian's chromium (installed by .ci/run), or a Chrome the machine has. */
function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => p !== undefined && p !== '');
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`no chromium at ${candidates.join(', ')}: apt-get install chromium (or set CHROMIUM_PATH)`);
  return found;
}

const SCREENSHOT_DIR = join(process.cwd(), 'test-output');

describe('the dashboard in a real browser', () => {
  let stack: LocalStack;
  let client: AutellixClient;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: -1,
      engines: 2,
      speed: 10,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      // Two slots per engine: calls queue, and new programs preempt old ones.
      engine: { maxBatchSeqs: 2 },
      gateway: { port: 0 },
      log: () => {},
    });
    client = await AutellixClient.connect({ servers: stack.url });
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await stack?.stop();
  });

  it('shows engines, queues and programs live, and a chosen program\'s timeline', async () => {
    // A workload that runs for several seconds: 6 programs of 3 calls each, arriving 150 ms apart.
    const workload = Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 150));
        const s = await client.openSession({ sessionId: `dash-${i}` });
        let parent: string | null = null;
        for (let j = 0; j < 3; j++) {
          const callId = `c${j}`;
          await s.call({ promptTokens: 200, maxTokens: 800, callId, ...(parent === null ? {} : { parents: [parent] }) }).result;
          parent = callId;
        }
        await s.close();
      }),
    );
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.gateway?.url}/dashboard`);
    await page.waitForFunction("Number(document.getElementById('updates')?.textContent) >= 1");
    expect(await page.textContent('#policy')).toBe('plas');
    expect(await page.locator('#engines tbody tr').count()).toBe(2);

    await page.waitForSelector('#programs tbody tr[data-program]');
    expect(await page.locator('#levels tbody tr').count()).toBeGreaterThan(0);
    // The figures change as the workload runs: collect what the tables show over a few updates.
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      await page.waitForTimeout(300);
      seen.add((await page.textContent('#engines tbody')) + '|' + (await page.textContent('#levels tbody')) + '|' + (await page.textContent('#programs tbody')));
    }
    expect(seen.size).toBeGreaterThan(1);

    // Open the first program's timeline: it shows its calls, with running stretches on an engine.
    const first = page.locator('#programs tbody tr[data-program]').first();
    const program = (await first.getAttribute('data-program')) as string;
    await first.click();
    await page.waitForFunction(`location.search === '?program=${program}'`);
    await page.waitForSelector('#timeline svg rect[data-phase="running"][data-engine]');
    expect(await page.textContent('#timeline-title')).toContain(program);
    const running = await page.locator('#timeline svg rect[data-phase="running"]').all();
    const engines = await Promise.all(running.map((r) => r.getAttribute('data-engine')));
    expect(engines.every((e) => e === 'engine-0' || e === 'engine-1')).toBe(true);

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const shot = join(SCREENSHOT_DIR, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
    await page.close();
    await workload;
  });
});
