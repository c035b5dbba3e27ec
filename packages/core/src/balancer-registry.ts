import type { Balancer } from './balancer.ts';
import { affinityBalancer, autellixBalancer, BalancerName, leastUsedBalancer, roundRobinBalancer } from './balancer.ts';
import { UnknownNameError } from './errors.ts';

/** The only place that lists the balancers. */
const BALANCERS: Readonly<Record<BalancerName, Balancer>> = {
  [BalancerName.roundRobin]: roundRobinBalancer,
  [BalancerName.leastUsed]: leastUsedBalancer,
  [BalancerName.autellix]: autellixBalancer,
  [BalancerName.affinity]: affinityBalancer,
};

/** Every registered balancer name, in registry order. */
export const balancerNames: readonly BalancerName[] = Object.keys(BALANCERS) as BalancerName[];

/** Looks a balancer up by name; throws `UnknownNameError` listing the known names. */
export function getBalancer(name: string): Balancer {
  const balancer = (BALANCERS as Record<string, Balancer | undefined>)[name];
  if (!balancer) throw new UnknownNameError('balancer', name, balancerNames);
  return balancer;
}
