import { DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS } from '@autellix/engine-model';
import { simulate } from '/work/main/packages/sim/src/simulate.ts';
import { generatePrograms } from '/work/main/packages/sim/src/workload/index.ts';
const [w, c, r, pol, n] = process.argv.slice(2);
const programs = generatePrograms(w, { seed: 1, count: Number(c), rate: Number(r) });
const rates: number[] = [];
for (let i = 0; i < Number(n ?? 8); i++) {
  const t0 = process.cpuUsage();
  const res = simulate({ programs, engines: 1, profile: 'llama3.1-8b-a100', policy: pol as 'plas', balancer: 'autellix', scheduler: DEFAULT_SCHEDULER_CONFIG, engine: DEFAULT_ENGINE_OPTIONS, warmup: 0, horizon: null });
  const u = process.cpuUsage(t0);
  const wall = (u.user + u.system) / 1e6;
  rates.push(Math.round(res.metrics.steps / wall));
}
rates.sort((a, b) => b - a);
console.log(w, pol, 'best', rates[0], 'median', rates[Math.floor(rates.length / 2)]);
