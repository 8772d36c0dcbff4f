/**
 * When a fit counts as finished. A run is a result only if (1) the entropy + scale
 * regulariser had decayed to 0 before the kept (best-validation) parameters were reached —
 * while it is on, it deliberately pulls the layer selection towards uniform, so selections
 * taken earlier are not FactorTopy's answer — and (2) training stopped because validation R²
 * stopped improving for `patience` epochs, not because an epoch or step cap cut it off while
 * it was still improving. Early stopping is armed only once the regulariser is off, so a
 * plateau during the warm-up never ends a run.
 */
import type { FactorTopyConfig } from '../model/config.js';

export type StopReason = 'patience' | 'max-epochs' | 'max-steps';

export interface Convergence {
  converged: boolean;
  stoppedBy: StopReason;
  /** Step at which the regulariser weight reaches 0 (0: no regulariser). */
  regulariserOffAtStep: number;
  /** Step of the kept (best-validation) parameters. */
  bestStep: number;
  /** Why the run is not converged, in words (empty when converged). */
  reasons: string[];
}

export interface TrainingTrace {
  config: Pick<FactorTopyConfig, 'regWeight' | 'regDecaySteps' | 'patience' | 'minDelta' | 'maxEpochs' | 'maxSteps'>;
  stoppedBy: StopReason;
  epochs: number;
  steps: number;
  bestEpoch: number;
  /** Optimiser step at the end of the best epoch. */
  bestStep: number;
}

/** Step from which the regulariser weight is 0. */
export function regulariserOffStep(config: Pick<FactorTopyConfig, 'regWeight' | 'regDecaySteps'>): number {
  return config.regWeight > 0 && config.regDecaySteps > 0 ? config.regDecaySteps : 0;
}

/** Whether early stopping may count a stale epoch that ended at `step`. */
export function patienceArmed(config: Pick<FactorTopyConfig, 'regWeight' | 'regDecaySteps'>, step: number): boolean {
  return step >= regulariserOffStep(config);
}

export function assessConvergence(t: TrainingTrace): Convergence {
  const off = regulariserOffStep(t.config);
  const reasons: string[] = [];
  if (t.bestStep < off) {
    reasons.push(`the kept parameters are from step ${t.bestStep}, before the regulariser decayed to 0 at step ${off} (train longer: --max-epochs/--max-steps, or shorten --reg-decay-steps)`);
  }
  if (t.stoppedBy !== 'patience') {
    const cap = t.stoppedBy === 'max-epochs' ? `the epoch cap (--max-epochs ${t.config.maxEpochs})` : `the step cap (--max-steps ${t.config.maxSteps})`;
    reasons.push(`stopped at ${cap} while validation R² was still improving (best epoch ${t.bestEpoch} of ${t.epochs}; early stopping waits ${t.config.patience} epochs without a gain of ${t.config.minDelta} or more)`);
  }
  return { converged: reasons.length === 0, stoppedBy: t.stoppedBy, regulariserOffAtStep: off, bestStep: t.bestStep, reasons };
}
