/**
 * `diffusion`: Stable Diffusion's UNet at time steps of the DDIM inversion of the image's latent
 * (Brain Decodes Deep Nets §4.2; the file layout is fixed by /work/sd-contract.md):
 *   PATH.onnx        the UNet: sample [B,4,h,w], timestep float32 [B], encoder_hidden_states [B,77,C]
 *                    → noise_pred [B,4,h,w] and the block outputs (NCHW)
 *   PATH.vae.onnx    the VAE encoder: pixel_values [B,3,H,W] in [-1,1] → latent [B,4,H/8,W/8] (mean × scale)
 *   PATH.prompt.npy  float32 [1,77,C]: the empty prompt's text embedding
 * Per batch: x⁽⁰⁾ = VAE(pixels); for k = 0 … T_max−1: ε = UNet(x⁽ᵏ⁾, t_k, prompt), the layers at
 * T = k+1 are read from that same call, then x⁽ᵏ⁺¹⁾ = one DDIM inversion step (ddim.ts). So an
 * image costs T_max UNet calls whatever the number of layers, never one inversion per layer.
 * No classifier-free guidance; the VAE mean makes it deterministic (seed is recorded only).
 */
import { existsSync } from 'node:fs';
import { sha256File } from '../../core/hash.js';
import { ZooError } from '../../core/errors.js';
import { readNpy } from '../../core/npy.js';
import type { ManifestProblem } from '../../plugins/validate.js';
import type { ResolvedVariant } from '../../plugins/manifest.js';
import { DdimInversion, SD_SCHEDULE } from '../ddim.js';
import { openSession, ort } from '../session.js';
import type { Extractor, LayerOutput } from './types.js';

export interface DiffusionSettings {
  /** DDIM inference steps over SD's 1,000 training steps (default 50); layer time steps T are 1..inferenceSteps. */
  inferenceSteps: number;
  /** Only the empty prompt: its embedding is PATH.prompt.npy. */
  prompt: string;
  /** Recorded for forward compatibility (the inversion is deterministic). */
  seed: number;
}

export const DIFFUSION_DEFAULTS: DiffusionSettings = { inferenceSteps: SD_SCHEDULE.inferenceSteps, prompt: '', seed: 0 };

/** Bumped when the computation changes, so old cache entries are not reused. */
const DIFFUSION_VERSION = 1;

export function diffusionSettings(settings: Record<string, unknown>): DiffusionSettings {
  return { ...DIFFUSION_DEFAULTS, ...settings } as DiffusionSettings;
}

/** PATH.vae.onnx and PATH.prompt.npy beside the UNet PATH.onnx. */
export function diffusionFiles(onnxPath: string): { vae: string; prompt: string } {
  const stem = onnxPath.replace(/\.onnx$/, '');
  return { vae: `${stem}.vae.onnx`, prompt: `${stem}.prompt.npy` };
}

const SETTINGS = ['inferenceSteps', 'prompt', 'seed'];

export const diffusionExtractor: Extractor = {
  kind: 'diffusion',
  summary: 'VAE encode → DDIM inversion (empty prompt) → UNet block outputs at each layer\'s time step',
  check({ extractor, layers, preprocess, at, settingsAt }) {
    const out: ManifestProblem[] = [];
    const s = extractor.settings;
    for (const key of Object.keys(s)) {
      if (!SETTINGS.includes(key)) out.push({ path: `${settingsAt}/${key}`, message: `the diffusion extractor has no setting "${key}"`, fix: `remove it; the settings are ${SETTINGS.map((k) => `"${k}"`).join(', ')}` });
    }
    const steps = s.inferenceSteps ?? DIFFUSION_DEFAULTS.inferenceSteps;
    const stepsOk = Number.isInteger(steps) && (steps as number) >= 1 && (steps as number) <= SD_SCHEDULE.trainSteps;
    if (!stepsOk) out.push({ path: `${settingsAt}/inferenceSteps`, message: `inferenceSteps must be an integer in 1..${SD_SCHEDULE.trainSteps} (found ${JSON.stringify(steps)})`, fix: '"inferenceSteps": 50 (the paper\'s DDIM inversion)' });
    if (s.prompt !== undefined && s.prompt !== '') {
      out.push({ path: `${settingsAt}/prompt`, message: `only the empty prompt is supported (found ${JSON.stringify(s.prompt)})`, fix: '"prompt": "" — the features are guidance-free; its text embedding is the exported PATH.prompt.npy' });
    }
    if (s.seed !== undefined && !Number.isInteger(s.seed)) out.push({ path: `${settingsAt}/seed`, message: `seed must be an integer (found ${JSON.stringify(s.seed)})`, fix: '"seed": 0' });
    layers.forEach((l, j) => {
      if (l.timestep === undefined) {
        out.push({ path: `${at}/layers/${j}`, message: `layer "${l.name}" has no "timestep": the diffusion extractor reads each layer at a time step of the inversion`, fix: `add "timestep": T with T in 1..${stepsOk ? String(steps) : '50'} (e.g. 25)` });
      } else if (stepsOk && (l.timestep < 1 || l.timestep > (steps as number))) {
        out.push({ path: `${at}/layers/${j}/timestep`, message: `time step ${l.timestep} of layer "${l.name}" is outside 1..${String(steps)} (inferenceSteps)`, fix: `use a time step in 1..${String(steps)}: T = k+1 is the UNet call at the k-th inversion step` });
      }
    });
    const unit = (v: unknown): boolean => Array.isArray(v) && v.length === 3 && v.every((x) => x === 0.5);
    if (!unit(preprocess.mean) || !unit(preprocess.std) || (preprocess.range ?? '0-1') !== '0-1') {
      out.push({ path: `${at}/preprocess`, message: 'the diffusion extractor\'s VAE takes pixels in [-1, 1], but preprocess does not map to it', fix: '"preprocess": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "range": "0-1"} (plugin or variant level)' });
    }
    return out;
  },
  keyPart(variant) {
    const files = diffusionFiles(variant.onnxPath);
    for (const f of [files.vae, files.prompt]) if (!existsSync(f)) throw missingSideFile(variant, f);
    return {
      kind: 'diffusion',
      version: DIFFUSION_VERSION,
      settings: diffusionSettings(variant.extractor.settings),
      schedule: { ...SD_SCHEDULE, inferenceSteps: undefined },
      vae: sha256File(files.vae),
      prompt: sha256File(files.prompt),
    };
  },
  probeVariant: (variant) => ({ ...variant, layers: variant.layers.map((l) => ({ ...l, timestep: 1 })) }),
  sideFiles(variant) {
    const f = diffusionFiles(variant.onnxPath);
    return [f.vae, f.prompt];
  },
  async open(variant, opts) {
    const files = diffusionFiles(variant.onnxPath);
    for (const f of [files.vae, files.prompt]) if (!existsSync(f)) throw missingSideFile(variant, f);
    const settings = diffusionSettings(variant.extractor.settings);
    const inversion = new DdimInversion({ ...SD_SCHEDULE, inferenceSteps: settings.inferenceSteps });
    const prompt = readNpy(files.prompt);
    if (prompt.shape.length !== 3 || prompt.shape[0] !== 1) {
      throw new ZooError('E_ONNX_SHAPE', `the prompt embedding has shape [${prompt.shape.join(', ')}], not [1, 77, C]`, { file: files.prompt, fix: 're-export the plugin (export.py writes PATH.prompt.npy)' });
    }
    const promptData = Float32Array.from(prompt.data);
    const unet = await openSession(variant.onnxPath, opts.device, opts.threads, opts.gpu);
    let vae: ort.InferenceSession | undefined;
    try {
      checkIo(unet, ['sample', 'timestep', 'encoder_hidden_states'], ['noise_pred', ...variant.layers.map((l) => l.output)], variant.onnxPath);
      vae = await openSession(files.vae, opts.device, opts.threads, opts.gpu);
      checkIo(vae, ['pixel_values'], ['latent'], files.vae);
    } catch (err) {
      await unet.release();
      await vae?.release();
      throw err;
    }
    const vaeSession = vae;
    // Layers grouped by the inversion step whose UNet call gives them (T = k + 1).
    const tMax = Math.max(...variant.layers.map((l) => l.timestep ?? 0));
    const atStep = new Map<number, number[]>();
    variant.layers.forEach((l, i) => atStep.set((l.timestep as number) - 1, [...(atStep.get((l.timestep as number) - 1) ?? []), i]));
    const R = variant.preprocess.resolution;
    const failed = (what: string, file: string, n: number, err: unknown): ZooError =>
      new ZooError('E_ONNX_SHAPE', `ONNX Runtime failed on the ${what} for a batch of ${n}: ${(err as Error).message.split('\n')[0]}`, {
        file,
        fix: 'check the export against the diffusion contract: UNet inputs sample [B,4,R/8,R/8], timestep float32 [B], encoder_hidden_states [B,77,C]; VAE pixel_values [B,3,R,R] → latent; dynamic batch',
        cause: err,
      });
    return {
      unitsPerImage: tMax,
      async run(pixels: Float32Array, n: number, progress?: (units: number) => void): Promise<LayerOutput[]> {
        let latentOut: ort.InferenceSession.OnnxValueMapType;
        try {
          latentOut = await vaeSession.run({ pixel_values: new ort.Tensor('float32', pixels, [n, 3, R, R]) }, ['latent']);
        } catch (err) {
          throw failed('VAE encoder', files.vae, n, err);
        }
        const dims = [...latentOut.latent.dims];
        let x: Float32Array = Float32Array.from(latentOut.latent.data as Float32Array);
        latentOut.latent.dispose();
        const ehs = new Float32Array(n * promptData.length);
        for (let b = 0; b < n; b++) ehs.set(promptData, b * promptData.length);
        const ehsTensor = new ort.Tensor('float32', ehs, [n, ...prompt.shape.slice(1)]);
        const results: LayerOutput[] = new Array(variant.layers.length);
        for (let k = 0; k < tMax; k++) {
          const here = atStep.get(k) ?? [];
          const fetch = ['noise_pred', ...new Set(here.map((i) => variant.layers[i].output))];
          let out: ort.InferenceSession.OnnxValueMapType;
          try {
            out = await unet.run(
              { sample: new ort.Tensor('float32', x, dims), timestep: new ort.Tensor('float32', new Float32Array(n).fill(inversion.timesteps[k]), [n]), encoder_hidden_states: ehsTensor },
              fetch,
            );
          } catch (err) {
            throw failed(`UNet at inversion step ${k} (t = ${inversion.timesteps[k]})`, variant.onnxPath, n, err);
          }
          for (const i of here) {
            const t = out[variant.layers[i].output];
            results[i] = { data: t.data as Float32Array, dims: t.dims };
          }
          if (k + 1 < tMax) x = inversion.step(k, x, out.noise_pred.data as Float32Array);
          out.noise_pred.dispose();
          progress?.(n);
        }
        return results;
      },
      async release() {
        await unet.release();
        await vaeSession.release();
      },
    };
  },
};

function checkIo(session: ort.InferenceSession, inputs: readonly string[], outputs: readonly string[], file: string): void {
  const noIn = inputs.filter((i) => !session.inputNames.includes(i));
  const noOut = outputs.filter((o) => !session.outputNames.includes(o));
  if (noIn.length || noOut.length) {
    const parts = [...(noIn.length ? [`input${noIn.length > 1 ? 's' : ''} ${noIn.map((m) => `"${m}"`).join(', ')}`] : []), ...(noOut.length ? [`output${noOut.length > 1 ? 's' : ''} ${noOut.map((m) => `"${m}"`).join(', ')}`] : [])];
    throw new ZooError('E_ONNX_OUTPUT', `the model lacks ${parts.join(' and ')} (the diffusion extractor's contract, or a layer's "output" in plugin.json)`, {
      file,
      found: { inputs: session.inputNames, outputs: session.outputNames },
      fix: 're-export with plugins/sd-unet/export.py (inputs sample, timestep, encoder_hidden_states; outputs noise_pred and every block), or fix the layers\' "output" names in plugin.json',
    });
  }
}

function missingSideFile(variant: ResolvedVariant, file: string): ZooError {
  return new ZooError('E_ONNX_MISSING', `the diffusion extractor of ${variant.pluginId}/${variant.name} needs ${file.endsWith('.npy') ? 'the prompt embedding' : 'the VAE encoder'} beside the UNet`, {
    file,
    fix: `export the variant again (zoo export --plugin ${variant.pluginId} --variant ${variant.name} …): export.py writes PATH.onnx, PATH.vae.onnx and PATH.prompt.npy together`,
  });
}
