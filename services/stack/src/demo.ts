#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import { AutellixClient } from '@autellix/client';
import { generatePrograms, summarize } from '@autellix/sim';
import { replay } from './replay.ts';

const { values } = parseArgs({
  options: {
    nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    workload: { type: 'string', default: 'mixed' },
    programs: { type: 'string', default: '40' },
    rate: { type: 'string', default: '0.3' },
    speed: { type: 'string', default: '20' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run demo -- [--nats URL] [--workload mixed|sharegpt|bfcl|lats] [--programs 40] [--rate 0.3] [--speed 20] [--seed N]
Runs agent programs against a running system (see npm start); --speed must match the engines'.`);
  process.exit(0);
}
const speed = Number(values.speed);
const programs = generatePrograms(values.workload, { seed: Number(values.seed), count: Number(values.programs), rate: Number(values.rate) });
const calls = programs.reduce((s, p) => s + p.calls.length, 0);
console.log(`${programs.length} ${values.workload} programs (${calls} LLM calls) against ${values.nats}, arrivals ${values.rate}/s modelled, engines at ${speed}x`);
let client: AutellixClient;
try {
  client = await AutellixClient.connect({ servers: values.nats });
} catch (err) {
  console.error(`cannot reach NATS at ${values.nats}: ${(err as Error).message}\nstart the system first: npm start`);
  process.exit(1);
}
const t0 = performance.now();
let state = { done: 0, inFlight: 0 };
const progressLine = (): void => {
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`\r  ${state.done}/${programs.length} programs done, ${state.inFlight} in flight, ${s} s wall, ${((performance.now() - t0) / 1000 * speed).toFixed(0)} s modelled   `);
};
const ticker = setInterval(progressLine, 250);
const out = await replay({
  client,
  programs,
  speed,
  clock: () => performance.now(),
  runTag: `demo${Date.now().toString(36)}`,
  onProgress: (done, _total, inFlight) => {
    state = { done, inFlight };
  },
});
clearInterval(ticker);
progressLine();
process.stdout.write('\n\n');
await client.close();
const kinds = [...new Set(out.map((p) => p.kind))].sort();
const rows = kinds.map((k) => {
  const ok = out.filter((p) => p.kind === k && p.error === null);
  const lat = summarize(ok.map((p) => p.completion - p.arrival));
  return [k, String(ok.length), lat.mean.toFixed(1), lat.p50.toFixed(1), lat.p95.toFixed(1), String(ok.reduce((s, p) => s + p.preemptions, 0))];
});
const all = out.filter((p) => p.error === null);
const lat = summarize(all.map((p) => p.completion - p.arrival));
rows.push(['all', String(all.length), lat.mean.toFixed(1), lat.p50.toFixed(1), lat.p95.toFixed(1), String(all.reduce((s, p) => s + p.preemptions, 0))]);
const head = ['program kind', 'done', 'mean s', 'p50 s', 'p95 s', 'preemptions'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (c: readonly string[]): string => c.map((x, i) => x.padEnd(widths[i] as number)).join('  ');
console.log('program latency, modelled seconds (arrival to last call done):');
console.log([line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
const failed = out.filter((p) => p.error !== null);
if (failed.length > 0) {
  console.log(`\n${failed.length} programs failed, e.g. ${failed[0]?.id}: ${failed[0]?.error}`);
  process.exitCode = 1;
}
