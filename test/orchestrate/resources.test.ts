/** What the local executor takes from the machine: default workers and the GPU of each worker slot. */
import { strict as assert } from 'node:assert';
import { defaultWorkers, gpuSlots, visibleGpus } from '../../harness/orchestrate/resources.js';

describe('orchestrate: workers and GPUs', () => {
  it('sees the GPUs CUDA_VISIBLE_DEVICES leaves visible (renumbered from 0), else those nvidia-smi lists', () => {
    const never = (): string => {
      throw new Error('nvidia-smi must not run when CUDA_VISIBLE_DEVICES is set');
    };
    assert.deepEqual(visibleGpus({ CUDA_VISIBLE_DEVICES: '2,5' }, never), [0, 1]);
    assert.deepEqual(visibleGpus({ CUDA_VISIBLE_DEVICES: '' }, never), []);
    assert.deepEqual(visibleGpus({ CUDA_VISIBLE_DEVICES: '-1' }, never), []);
    const smi = 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaa)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbb)\nGPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-ccc)\n';
    assert.deepEqual(visibleGpus({}, () => smi), [0, 1, 2]);
    assert.deepEqual(visibleGpus({}, () => { throw new Error('ENOENT'); }), [], 'no nvidia-smi: no GPUs');
  });

  it('defaults to cores ÷ threads on the CPU, one worker per GPU with CUDA, one with WebGPU', () => {
    assert.equal(defaultWorkers('cpu', 1, [], 16), 16);
    assert.equal(defaultWorkers('cpu', 4, [], 16), 4);
    assert.equal(defaultWorkers('cpu', 4, [], 2), 1, 'never zero');
    assert.equal(defaultWorkers('cuda', 1, [0, 1, 2, 3], 16), 4);
    assert.equal(defaultWorkers('cuda', 1, [], 16), 1);
    assert.equal(defaultWorkers('webgpu', 1, [0, 1], 16), 1);
  });

  it('gives each worker slot a GPU, round robin when there are more workers than GPUs', () => {
    assert.deepEqual(gpuSlots('cuda', 4, [0, 1, 2, 3]), [0, 1, 2, 3]);
    assert.deepEqual(gpuSlots('cuda', 3, [0, 1]), [0, 1, 0]);
    assert.deepEqual(gpuSlots('cpu', 2, [0, 1]), []);
    assert.deepEqual(gpuSlots('cuda', 2, []), []);
  });
});
