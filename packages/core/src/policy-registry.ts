import { UnknownNameError } from './errors.ts';
import type { Policy } from './policy.ts';
import {
  atlasPolicy,
  fcfsPolicy,
  gittinsPolicy,
  mlfqPolicy,
  PolicyName,
  plasPolicy,
  programFcfsPolicy,
  srptPolicy,
} from './policy.ts';

/** The only place that lists the policies. */
const POLICIES: Readonly<Record<PolicyName, Policy>> = {
  [PolicyName.fcfs]: fcfsPolicy,
  [PolicyName.mlfq]: mlfqPolicy,
  [PolicyName.plas]: plasPolicy,
  [PolicyName.atlas]: atlasPolicy,
  [PolicyName.programFcfs]: programFcfsPolicy,
  [PolicyName.srpt]: srptPolicy,
  [PolicyName.gittins]: gittinsPolicy,
};

/** Every registered policy name, in registry order. */
export const policyNames: readonly PolicyName[] = Object.keys(POLICIES) as PolicyName[];

/** Looks a policy up by name; throws `UnknownNameError` listing the known names. */
export function getPolicy(name: string): Policy {
  const policy = (POLICIES as Record<string, Policy | undefined>)[name];
  if (!policy) throw new UnknownNameError('policy', name, policyNames);
  return policy;
}
