import { demandFor, type Demands } from '../policy/policy';
import { formatDuration } from './effective-config';

/** One credential kind's demand as the config spells it: `aal2`, or `aal2, max_age 5m`. */
export function demandText(demands: Demands, kind: 'cookie' | 'token'): string {
  const { aal, maxAge } = demandFor(demands, kind);
  return maxAge === undefined ? aal : `${aal}, max_age ${formatDuration(maxAge)}`;
}
