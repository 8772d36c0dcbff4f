import { strict as assert } from 'node:assert';
import { finetuneChange, replicateDifference } from '../../harness/metrics/finetune.js';

describe('metrics/finetune', () => {
  it('change = fine-tuned − pre-trained, on the ROIs both have', () => {
    const c = finetuneChange(
      { meanR2: 0.12, slope: 0.5, roiR2: new Map([['V1', 0.2], ['EBA', 0.15], ['FFA', 0.1]]) },
      { meanR2: 0.1, slope: 0.2, roiR2: new Map([['V1', 0.21], ['EBA', 0.05]]) },
    );
    assert.ok(Math.abs(c.meanR2Change + 0.02) < 1e-12);
    assert.ok(Math.abs(c.slopeChange + 0.3) < 1e-12);
    assert.deepEqual([...c.roiR2Change.keys()], ['V1', 'EBA']);
    assert.ok(Math.abs(c.roiR2Change.get('V1')! - 0.01) < 1e-12 && Math.abs(c.roiR2Change.get('EBA')! + 0.1) < 1e-12);
    assert.deepEqual(Array.from(replicateDifference(Float64Array.of(1, 2), Float64Array.of(3, 5))!), [2, 3]);
    assert.equal(replicateDifference(Float64Array.of(1), undefined), undefined);
  });
});
