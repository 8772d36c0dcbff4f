/**
 * `forward`: one pass of the preprocessed pixels through the ONNX (input `pixel_values`), every
 * layer read from its own output. The ViTs and CNNs; the default when plugin.json names none.
 */
import { ZooError } from '../../core/errors.js';
import { checkOutputs, openSession, ort } from '../session.js';
import type { Extractor, LayerOutput } from './types.js';

export const forwardExtractor: Extractor = {
  kind: 'forward',
  summary: 'one pass of the preprocessed pixels (input pixel_values); each layer is one ONNX output',
  check({ extractor, settingsAt }) {
    const extra = Object.keys(extractor.settings);
    return extra.length
      ? [{ path: settingsAt, message: `the forward extractor takes no settings (found ${extra.map((k) => `"${k}"`).join(', ')})`, fix: `remove ${extra.map((k) => `"${k}"`).join(', ')}, or name the extractor they belong to in "kind"` }]
      : [];
  },
  keyPart: () => undefined,
  sideFiles: () => [],
  async open(variant, opts) {
    const session = await openSession(variant.onnxPath, opts.device, opts.threads, opts.gpu);
    try {
      checkOutputs(session, variant.layers.map((l) => l.output), variant.onnxPath);
    } catch (err) {
      await session.release();
      throw err;
    }
    const R = variant.preprocess.resolution;
    return {
      async run(pixels: Float32Array, n: number): Promise<LayerOutput[]> {
        const feeds = { pixel_values: new ort.Tensor('float32', pixels, [n, 3, R, R]) };
        let outputs: ort.InferenceSession.OnnxValueMapType;
        try {
          outputs = await session.run(feeds, variant.layers.map((l) => l.output));
        } catch (err) {
          throw new ZooError('E_ONNX_SHAPE', `ONNX Runtime failed on a batch of ${n}: ${(err as Error).message.split('\n')[0]}`, {
            file: variant.onnxPath,
            fix: `check that the model takes pixel_values [batch, 3, ${R}, ${R}] (plugin.json preprocess.resolution) with a dynamic batch`,
            cause: err,
          });
        }
        return variant.layers.map((layer) => {
          const t = outputs[layer.output];
          return { data: t.data as Float32Array, dims: t.dims, dispose: () => t.dispose() };
        });
      },
      release: () => session.release(),
    };
  },
};
