import assert from 'node:assert/strict';
import { assessConvergence, patienceArmed, regulariserOffStep } from '../../harness/fit/convergence.js';
import { DEFAULT_CONFIG, regDecayStepsFor, regWeightAt } from '../../harness/model/config.js';

describe('fit: regulariser schedule and convergence', () => {
  it('the warm-up lasts the authors\' 2,000 steps on NSD-sized epochs and 25 epochs on small data', () => {
    assert.equal(regDecayStepsFor(DEFAULT_CONFIG, 984), 2000); // NSD subj01: 7,872 training images / batch 8
    assert.equal(regDecayStepsFor(DEFAULT_CONFIG, 30), 750); // the bundled brain: 240 training images
    assert.equal(regDecayStepsFor({ ...DEFAULT_CONFIG, regDecayEpochs: 0 }, 30), 2000);
    const schedule = { ...DEFAULT_CONFIG, regDecaySteps: regDecayStepsFor(DEFAULT_CONFIG, 30) };
    assert.equal(regWeightAt(schedule, 0), 0.1);
    assert.ok(Math.abs(regWeightAt(schedule, 375) - 0.05) < 1e-12);
    assert.equal(regWeightAt(schedule, 750), 0);
    assert.equal(regulariserOffStep(schedule), 750);
    assert.equal(regulariserOffStep({ ...schedule, regWeight: 0 }), 0);
    assert.equal(patienceArmed(schedule, 749), false);
    assert.equal(patienceArmed(schedule, 750), true);
  });

  const config = { ...DEFAULT_CONFIG, regDecaySteps: 300, maxEpochs: 30 };

  it('a run stopped by early stopping after the regulariser decayed is converged', () => {
    const c = assessConvergence({ config, stoppedBy: 'patience', epochs: 25, steps: 750, bestEpoch: 20, bestStep: 600 });
    assert.equal(c.converged, true);
    assert.deepEqual(c.reasons, []);
    assert.equal(c.regulariserOffAtStep, 300);
  });

  it('a run cut off by the epoch cap is not converged, and says why', () => {
    const c = assessConvergence({ config, stoppedBy: 'max-epochs', epochs: 30, steps: 900, bestEpoch: 30, bestStep: 900 });
    assert.equal(c.converged, false);
    assert.equal(c.reasons.length, 1);
    assert.match(c.reasons[0], /epoch cap \(--max-epochs 30\).*best epoch 30 of 30/);
  });

  it('parameters kept before the regulariser decayed are not a result', () => {
    const c = assessConvergence({ config: { ...config, maxSteps: 90 }, stoppedBy: 'max-steps', epochs: 3, steps: 90, bestEpoch: 3, bestStep: 90 });
    assert.equal(c.converged, false);
    assert.equal(c.reasons.length, 2);
    assert.match(c.reasons[0], /from step 90, before the regulariser decayed to 0 at step 300/);
    assert.match(c.reasons[1], /step cap \(--max-steps 90\)/);
  });
});
