/**
 * `zoo plugins validate`, third pass (after the schema and the meaning checks): a plugin against
 * its ONNX files, for every variant whose file is present (the bundled fixture, or the export
 * under the models folder). The file opens in ONNX Runtime; it takes `pixel_values`
 * [batch, 3, R, R] at the declared resolution with a dynamic batch; every declared layer output
 * exists; and a forward pass on two generated images gives each layer the shape its token layout,
 * grid and channels promise, with finite values. A bundled variant whose fixture is missing is a
 * problem; a real variant that is not exported yet is listed as such, and so is an ONNX-only
 * variant whose file is not here; an ONNX-only file that is here must have the declared sha256.
 */
import { existsSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { isZooError } from '../core/errors.js';
import { bundledPluginsDir } from '../core/paths.js';
import { Rng } from '../data/random.js';
import { LAYOUT_FIX, layerShapeMismatch } from '../features/decode.js';
import { openSession, ort } from '../features/session.js';
import { extractorFor, type ExtractorSession } from '../features/extractors/index.js';
import type { PluginManifest, ResolvedLayer, ResolvedVariant, VariantSpec } from './manifest.js';
import { onnxOnlyMismatch, onnxOnlyState } from './onnx-only.js';
import { resolveVariant, type ManifestProblem } from './validate.js';

export const INPUT_NAME = 'pixel_values';
const PROBE_BATCH = 2;

export type OnnxStatus = 'checked' | 'problems' | 'missing fixture' | 'not exported' | 'not here';

export interface VariantOnnxCheck {
  variant: string;
  onnx: string;
  status: OnnxStatus;
}

export interface OnnxCheck {
  problems: ManifestProblem[];
  variants: VariantOnnxCheck[];
}

/** JSON paths of the places a resolved variant's settings come from. */
interface Places {
  variant: string;
  onnx: string;
  resolution: string;
  /** The layers entry, and a layer's own path when they are written as a list. */
  layers: string;
  layer(index: number): string;
}

function places(m: PluginManifest, index: number): Places {
  const spec = m.variants[index];
  const at = `/variants/${index}`;
  const sourceIndex = spec.finetune ? m.variants.findIndex((v) => v.name === spec.finetune?.from) : -1;
  const source: VariantSpec | undefined = sourceIndex >= 0 ? m.variants[sourceIndex] : undefined;
  const layersAt = spec.layers ? `${at}/layers` : source?.layers ? `/variants/${sourceIndex}/layers` : `${at}/layers`;
  const listed = Array.isArray(spec.layers ?? source?.layers);
  const resolution = spec.preprocess?.resolution !== undefined ? `${at}/preprocess/resolution`
    : source?.preprocess?.resolution !== undefined ? `/variants/${sourceIndex}/preprocess/resolution` : '/preprocess/resolution';
  return { variant: at, onnx: spec.onnx ? `${at}/onnx` : at, resolution, layers: layersAt, layer: (j) => (listed ? `${layersAt}/${j}` : layersAt) };
}

/** The command that writes a missing fixture (export.py through `zoo export`). */
function exportCommand(m: PluginManifest, pluginDir: string, v: ResolvedVariant): string {
  const outside = relative(bundledPluginsDir(), pluginDir).startsWith('..');
  return `zoo export --plugin ${m.id} --variant ${v.name} --random-init${outside ? ` --plugins ${dirname(pluginDir)}` : ''}`;
}

function inputProblems(session: ort.InferenceSession, v: ResolvedVariant, where: Places): ManifestProblem[] {
  if (!session.inputNames.includes(INPUT_NAME)) {
    return [{ path: where.onnx, message: `${v.onnxPath} has no input "${INPUT_NAME}" (its inputs: ${session.inputNames.join(', ')})`, fix: `export with the input named "${INPUT_NAME}" (plugins/_lib's exporter does)` }];
  }
  const meta = session.inputMetadata.find((x) => x.name === INPUT_NAME);
  if (!meta?.isTensor || meta.shape.length === 0) return [];
  const R = v.preprocess.resolution;
  const shape = meta.shape.map(String);
  const want = ['batch', '3', String(R), String(R)];
  // A dimension is fixed when it is a positive number (symbolic names and -1 are dynamic).
  const fixed = (d: number | string): d is number => typeof d === 'number' && d > 0;
  const bad = meta.shape.length !== 4 || meta.shape.slice(1).some((d, i) => fixed(d) && String(d) !== want[i + 1]);
  if (bad) {
    return [{ path: where.resolution, message: `${v.onnxPath} takes ${INPUT_NAME} [${shape.join(', ')}], but the manifest feeds [batch, 3, ${R}, ${R}] (resolution ${R})`, fix: 'set "resolution" to the side the model was exported for, or re-export it at this resolution' }];
  }
  if (fixed(meta.shape[0])) {
    return [{ path: where.onnx, message: `${v.onnxPath} takes a fixed batch of ${meta.shape[0]}; zoo extract runs batches of up to 16`, fix: 'export with a dynamic batch axis (plugins/_lib\'s exporter does)' }];
  }
  return [];
}

function outputProblems(session: ort.InferenceSession, v: ResolvedVariant, where: Places): ManifestProblem[] {
  const missing = v.layers.filter((l) => !session.outputNames.includes(l.output));
  if (!missing.length) return [];
  const names = missing.map((l) => `"${l.output}"`);
  return [{
    path: missing.length === 1 ? where.layer(missing[0].index) : where.layers,
    message: `${v.onnxPath} lacks output${missing.length > 1 ? 's' : ''} ${names.slice(0, 4).join(', ')}${names.length > 4 ? ` and ${names.length - 4} more` : ''} declared by the layers (its outputs: ${session.outputNames.slice(0, 6).join(', ')}${session.outputNames.length > 6 ? ', …' : ''})`,
    fix: 're-export so that every block is an output, or fix the layers\' "output" names',
  }];
}

/** Layers whose outputs disagree with their layout, one problem per kind of disagreement. */
function shapeProblems(output: (layer: ResolvedLayer, i: number) => { dims: readonly number[]; data: unknown }, v: ResolvedVariant, where: Places): ManifestProblem[] {
  const groups = new Map<string, ResolvedLayer[]>();
  const nonFinite: ResolvedLayer[] = [];
  for (const [i, layer] of v.layers.entries()) {
    const t = output(layer, i);
    const mismatch = layerShapeMismatch(t.dims, layer);
    if (mismatch) groups.set(mismatch, [...(groups.get(mismatch) ?? []), layer]);
    else if (!(t.data as Float32Array).every(Number.isFinite)) nonFinite.push(layer);
  }
  const out: ManifestProblem[] = [];
  for (const [mismatch, layers] of groups) {
    const one = layers.length === 1;
    const who = one ? `output "${layers[0].output}" (layer ${layers[0].name})` : `${layers.length} layers' outputs ("${layers[0].output}" … "${layers[layers.length - 1].output}")`;
    out.push({ path: one ? where.layer(layers[0].index) : where.layers, message: `in ${v.onnxPath}, ${who} ${one ? mismatch : mismatch.replace(/^has /, 'have ')}`, fix: LAYOUT_FIX });
  }
  if (nonFinite.length) {
    out.push({ path: where.layer(nonFinite[0].index), message: `in ${v.onnxPath}, output "${nonFinite[0].output}"${nonFinite.length > 1 ? ` and ${nonFinite.length - 1} more` : ''} is not finite (NaN or infinity) on generated images`, fix: 'check the exported weights (a broken checkpoint or a failed fine-tune)' });
  }
  return out;
}

async function checkVariant(m: PluginManifest, pluginDir: string, index: number, models: string | undefined): Promise<{ status: OnnxStatus; onnx: string; problems: ManifestProblem[] }> {
  const spec = m.variants[index];
  const where = places(m, index);
  const v = resolveVariant(m, pluginDir, spec.name, models);
  if (!existsSync(v.onnxPath)) {
    // an ONNX-only variant whose file is not here yet is listed like an unexported one: not a problem
    if (spec.onnxOnly) return { status: 'not here', onnx: v.onnxPath, problems: [] };
    if (!spec.bundled) return { status: 'not exported', onnx: v.onnxPath, problems: [] };
    return {
      status: 'missing fixture',
      onnx: v.onnxPath,
      problems: [{ path: where.onnx, message: `bundled fixture ${v.onnxPath} does not exist`, fix: `write it: ${exportCommand(m, pluginDir, v)}${spec.onnx ? '' : '; or name the fixture with "onnx"'}` }],
    };
  }
  const declared: ManifestProblem[] = [];
  const only = onnxOnlyState(v);
  if (only.state === 'mismatch') declared.push({ path: `${where.variant}/onnxOnly/sha256`, ...onnxOnlyMismatch(v, only) });
  if (v.extractor.kind !== 'forward') return checkWithExtractor(m, pluginDir, v, where, declared, Boolean(spec.bundled));
  let session: ort.InferenceSession;
  try {
    session = await openSession(v.onnxPath, 'cpu');
  } catch (err) {
    if (!isZooError(err)) throw err;
    return { status: 'problems', onnx: v.onnxPath, problems: [...declared, { path: where.onnx, message: `${v.onnxPath}: ${err.message}`, fix: err.fix ?? 're-export the model' }] };
  }
  try {
    const problems = [...declared, ...inputProblems(session, v, where), ...outputProblems(session, v, where)];
    if (problems.length === declared.length) {
      const R = v.preprocess.resolution;
      const pixels = new Rng(`plugins-validate:${m.id}:${v.name}`).fillGaussian(new Float32Array(PROBE_BATCH * 3 * R * R)) as Float32Array;
      let outputs: ort.InferenceSession.OnnxValueMapType | undefined;
      try {
        outputs = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', pixels, [PROBE_BATCH, 3, R, R]) }, v.layers.map((l) => l.output));
      } catch (err) {
        problems.push({ path: where.onnx, message: `${v.onnxPath} fails on ${INPUT_NAME} [${PROBE_BATCH}, 3, ${R}, ${R}]: ${((err as Error).message ?? String(err)).split('\n')[0]}`, fix: `check that the model takes [batch, 3, ${R}, ${R}] with a dynamic batch, or re-export it` });
      }
      if (outputs) {
        const got = outputs;
        problems.push(...shapeProblems((l) => got[l.output], v, where));
        for (const t of Object.values(outputs)) t.dispose();
      }
    }
    return { status: problems.length ? 'problems' : 'checked', onnx: v.onnxPath, problems };
  } finally {
    await session.release();
  }
}

/**
 * A variant whose extractor is not `forward` (the diffusion UNet): the extractor opens its files
 * and checks their inputs and outputs, then runs two generated images; each layer's shape is
 * checked against its layout (the extractor's probe variant keeps this cheap: time steps are read
 * from the first UNet call, shapes do not depend on T).
 */
async function checkWithExtractor(m: PluginManifest, pluginDir: string, v: ResolvedVariant, where: Places, declared: ManifestProblem[], bundled: boolean): Promise<{ status: OnnxStatus; onnx: string; problems: ManifestProblem[] }> {
  const extractor = extractorFor(v.extractor, v.manifestPath);
  const missing = extractor.sideFiles(v).filter((f) => !existsSync(f));
  if (missing.length) {
    if (!bundled) return { status: 'not exported', onnx: v.onnxPath, problems: declared };
    return { status: 'missing fixture', onnx: v.onnxPath, problems: [...declared, { path: where.onnx, message: `bundled fixture ${missing.join(', ')} does not exist (the ${v.extractor.kind} extractor reads it beside ${v.onnxPath})`, fix: `write it: ${exportCommand(m, pluginDir, v)}` }] };
  }
  const probe = extractor.probeVariant?.(v) ?? v;
  const problems = [...declared];
  let session: ExtractorSession;
  try {
    session = await extractor.open(probe, { device: 'cpu' });
  } catch (err) {
    if (!isZooError(err)) throw err;
    return { status: 'problems', onnx: v.onnxPath, problems: [...problems, { path: where.onnx, message: `${err.file ?? v.onnxPath}: ${err.message}`, fix: err.fix ?? 're-export the model' }] };
  }
  try {
    const R = v.preprocess.resolution;
    const pixels = new Rng(`plugins-validate:${m.id}:${v.name}`).fillGaussian(new Float32Array(PROBE_BATCH * 3 * R * R)) as Float32Array;
    try {
      const outputs = await session.run(pixels, PROBE_BATCH);
      problems.push(...shapeProblems((_, i) => outputs[i], v, where));
    } catch (err) {
      if (!isZooError(err)) throw err;
      problems.push({ path: where.onnx, message: `${err.file ?? v.onnxPath}: ${err.message}`, fix: err.fix ?? 're-export the model' });
    }
  } finally {
    await session.release();
  }
  return { status: problems.length ? 'problems' : 'checked', onnx: v.onnxPath, problems };
}

/** Checks every variant of a manifest that passed the schema and meaning checks against its ONNX file. */
export async function checkPluginOnnx(m: PluginManifest, pluginDir: string, models?: string): Promise<OnnxCheck> {
  const out: OnnxCheck = { problems: [], variants: [] };
  for (let i = 0; i < m.variants.length; i++) {
    const r = await checkVariant(m, pluginDir, i, models);
    out.problems.push(...r.problems);
    out.variants.push({ variant: m.variants[i].name, onnx: r.onnx, status: r.status });
  }
  return out;
}
