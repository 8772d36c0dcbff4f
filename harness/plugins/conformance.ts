/**
 * The plugin conformance checks (`zoo plugins test`), ESLint's RuleTester and timm's
 * per-model tests for brainzoo: for one plugin variant, wherever the plugin lives, check that
 *   manifest     plugin.json passes the schema and the meaning checks (validate.ts);
 *   onnx-opens   its ONNX file opens in ONNX Runtime;
 *   onnx-io      the graph has the inputs its extractor feeds (forward: pixel_values [batch, 3, R, R])
 *                and one output per layer;
 *   onnx-shapes  run at batch 2 and 1, every output has its layout's shape, finite values;
 *   features     features extract from a few generated images (a temporary cache);
 *   export       export.py --random-init reproduces the committed ONNX byte for byte
 *                (bundled variants; skipped, and said so, without Python and torch). The one
 *                check that runs the plugin's own code (its Python and export.py): `notice`
 *                hears of it before it runs, and `export: false` (--no-export) skips it;
 *   fit          a one-epoch FactorTopy fit on a small planted brain runs.
 * The repository's own conformance suite (test/plugins/conformance.test.ts) is generated from
 * CHECKS: one mocha `it` per check per bundled plugin.
 *
 * A check that needs another (features needs onnx-shapes) is skipped when that one did not
 * pass, naming it. Everything temporary lives in one folder that dispose() removes.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { ZooError, isZooError } from '../core/errors.js';
import { sha256File } from '../core/hash.js';
import { Rng } from '../data/random.js';
import { checkLayerDims } from '../features/decode.js';
import { extractFeatures, type ImageRef } from '../features/extract.js';
import { openSession, ort, type Device } from '../features/session.js';
import { extractorFor, type ExtractorSession, type LayerOutput } from '../features/extractors/index.js';
import { fitSubject } from '../fit/train.js';
import { readRunSelections } from '../runs/store.js';
import { synthesizeDataset } from '../synth/generate.js';
import { synthImage } from '../synth/images.js';
import { PYTHON_FIX, exporterPython, probePython, runExporter } from './exporter.js';
import { expectedOutputDims, tinyVariantName, type PluginManifest, type ResolvedVariant } from './manifest.js';
import { onnxOnlyMismatch, onnxOnlyPlaceFix, onnxOnlyState } from './onnx-only.js';
import { checkManifestFile, resolveVariant } from './validate.js';

export type CheckId = 'manifest' | 'onnx-opens' | 'onnx-io' | 'onnx-shapes' | 'features' | 'export' | 'fit';
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  check: CheckId;
  title: string;
  status: CheckStatus;
  /** What failed, or why the check was skipped; for a pass, what was checked. */
  message: string;
  fix?: string;
  file?: string;
  seconds: number;
}

export interface ConformanceOptions {
  /** The variant to check (default: the tiny variant — "tiny", else the first bundled one — else the default variant). */
  variant?: string;
  models?: string;
  device?: Device;
  /** "auto": no Python with torch skips the export check; "required": it fails it (the repository's suite). */
  python?: 'auto' | 'required';
  /** Also regenerate bundled fine-tuned fixtures (thousands of training steps: minutes). */
  fullFixtures?: boolean;
  /** false: skip the export check, the only one that runs the plugin's own code (--no-export). */
  export?: boolean;
  /** Hears, before it runs, of the plugin's own code that a check is about to run (one line). */
  notice?: (line: string) => void;
  /** Where the temporary folder goes (default: the system's). */
  tmpRoot?: string;
}

type Outcome = Pick<CheckResult, 'status' | 'message' | 'fix' | 'file'>;

export interface ConformanceCheck {
  id: CheckId;
  title: string;
  needs: readonly CheckId[];
  run(t: PluginUnderTest): Promise<Outcome>;
}

const pass = (message: string): Outcome => ({ status: 'pass', message });
const fail = (message: string, fix?: string, file?: string): Outcome => ({ status: 'fail', message, fix, file });
const skip = (message: string, fix?: string): Outcome => ({ status: 'skip', message, fix });

/** Images for the features check, and the planted brain of the fit check (small: seconds). */
export const FEATURE_IMAGES = 4;
export const FIT_BRAIN = { subjects: 1, voxels: 200, images: 80, snr: 2 } as const;

/** One plugin variant under test; checks run at most once each, prerequisites first. */
export class PluginUnderTest {
  readonly manifestPath: string;
  private readonly results = new Map<CheckId, CheckResult>();
  private manifestValue?: PluginManifest;
  private variantValue?: ResolvedVariant;
  private tmp?: string;

  constructor(readonly dir: string, readonly options: ConformanceOptions = {}) {
    this.manifestPath = join(dir, 'plugin.json');
  }

  get manifest(): PluginManifest {
    if (!this.manifestValue) throw new ZooError('E_INTERNAL', 'the manifest check has not passed');
    return this.manifestValue;
  }

  get variant(): ResolvedVariant {
    if (!this.variantValue) throw new ZooError('E_INTERNAL', 'the manifest check has not passed');
    return this.variantValue;
  }

  get device(): Device {
    return this.options.device ?? 'cpu';
  }

  /** The variant's name once the manifest is read (undefined before, or when it is broken). */
  get variantName(): string | undefined {
    return this.variantValue?.name;
  }

  /** A fresh folder under this run's temporary folder. */
  tempDir(name: string): string {
    this.tmp ??= mkdtempSync(join(this.options.tmpRoot ?? tmpdir(), 'brainzoo-plugins-test-'));
    const dir = join(this.tmp, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Reads and checks the manifest; resolves the variant. Thrown, as bad input: an unknown
   * --variant, and a path the manifest names that leaves the plugin folder (the plugin is refused).
   */
  loadManifest(): Outcome {
    const check = checkManifestFile(this.manifestPath);
    const escapes = check.problems.find((p) => p.escapes);
    if (escapes) throw new ZooError('E_PLUGIN_MANIFEST', escapes.message, { file: this.manifestPath, path: escapes.path, fix: `${escapes.fix ?? ''}; zoo plugins validate ${this.dir} lists every problem` });
    if (!check.manifest || check.problems.length) {
      const first = check.problems[0];
      const more = check.problems.length > 1 ? ` (and ${check.problems.length - 1} more)` : '';
      return fail(`${first.path}: ${first.message}${more}`, `${first.fix ? `${first.fix}; ` : ''}zoo plugins validate ${this.dir} lists every problem`, this.manifestPath);
    }
    const m = check.manifest;
    const name = this.options.variant ?? tinyVariantName(m);
    this.variantValue = resolveVariant(m, this.dir, name, this.options.models);
    this.manifestValue = m;
    return pass(`${m.variants.length} variant${m.variants.length > 1 ? 's' : ''}; testing ${this.variantValue.name}`);
  }

  /** Runs one check (and what it needs), once. */
  async check(id: CheckId): Promise<CheckResult> {
    const done = this.results.get(id);
    if (done) return done;
    const check = CHECKS.find((c) => c.id === id);
    if (!check) throw new ZooError('E_INTERNAL', `no conformance check "${id}"`);
    for (const need of check.needs) {
      const prior = await this.check(need);
      if (prior.status !== 'pass') return this.record(check, skip(`needs ${need}, which ${prior.status === 'fail' ? 'failed' : 'was skipped'}`), 0);
    }
    const t0 = performance.now();
    let outcome: Outcome;
    try {
      outcome = await check.run(this);
    } catch (err) {
      // bad input to the command, not a failed check: an unknown variant, a refused plugin
      if (isZooError(err) && (err.code === 'E_VARIANT_UNKNOWN' || (id === 'manifest' && err.code === 'E_PLUGIN_MANIFEST'))) throw err;
      outcome = isZooError(err) ? fail(err.message, err.fix, err.file) : fail(`internal error: ${(err as Error).stack ?? String(err)}`, 'please report this with the plugin');
    }
    return this.record(check, outcome, (performance.now() - t0) / 1000);
  }

  async runAll(onResult?: (r: CheckResult) => void): Promise<CheckResult[]> {
    const out: CheckResult[] = [];
    for (const c of CHECKS) {
      const r = await this.check(c.id);
      out.push(r);
      onResult?.(r);
    }
    return out;
  }

  dispose(): void {
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
    this.tmp = undefined;
  }

  private record(check: ConformanceCheck, outcome: Outcome, seconds: number): CheckResult {
    const result: CheckResult = { check: check.id, title: check.title, ...outcome, seconds: Math.round(seconds * 1000) / 1000 };
    this.results.set(check.id, result);
    return result;
  }

  /** The command that (re)makes this variant's ONNX, for fixes. */
  exportCommand(): string {
    const v = this.variant;
    const weights = v.bundled ? '--random-init' : v.finetune ? `--checkpoint <file of ${v.finetune.from}> --finetune <dataset>` : '--checkpoint <official weights>';
    return `zoo export --plugins ${this.dir} --plugin ${v.pluginId} --variant ${v.name} ${weights}`;
  }
}

/** Random pixels in [-2, 2) (normalised-image range), from a fixed LCG. */
function randomPixels(batch: number, resolution: number, seed: number): Float32Array {
  const data = new Float32Array(batch * 3 * resolution * resolution);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 4294967296) * 4 - 2;
  }
  return data;
}

async function withSession<T>(t: PluginUnderTest, use: (s: ort.InferenceSession) => Promise<T>): Promise<T> {
  const session = await openSession(t.variant.onnxPath, t.device);
  try {
    return await use(session);
  } finally {
    await session.release();
  }
}

function allFinite(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
  return true;
}

const fmtShape = (dims: readonly (number | string)[]): string => `[${dims.join(', ')}]`;

/**
 * onnx-io for a variant whose extractor is not `forward`: the extractor opens its files and
 * checks their inputs and outputs against its contract (the diffusion UNet has more outputs
 * than one variant reads, so undeclared outputs are fine here).
 */
async function extractorIo(t: PluginUnderTest): Promise<Omit<CheckResult, 'check' | 'title' | 'seconds'>> {
  const v = t.variant;
  const extractor = extractorFor(v.extractor, v.manifestPath);
  let session: ExtractorSession;
  try {
    session = await extractor.open(extractor.probeVariant?.(v) ?? v, { device: t.device });
  } catch (err) {
    if (!isZooError(err)) throw err;
    return fail(err.message, err.fix ?? `re-export it (${t.exportCommand()})`, err.file ?? v.onnxPath);
  }
  await session.release();
  const side = extractor.sideFiles(v).map((f) => relative(dirname(v.onnxPath), f));
  return pass(`${v.extractor.kind} extractor: ${relative(dirname(v.onnxPath), v.onnxPath)}${side.length ? ` with ${side.join(', ')}` : ''}; ${new Set(v.layers.map((l) => l.output)).size} declared outputs present`);
}

/** onnx-shapes through the extractor (its cheap probe variant), at batch 2 and 1. */
async function extractorShapes(t: PluginUnderTest): Promise<Omit<CheckResult, 'check' | 'title' | 'seconds'>> {
  const v = t.variant;
  const extractor = extractorFor(v.extractor, v.manifestPath);
  const probe = extractor.probeVariant?.(v) ?? v;
  const session = await extractor.open(probe, { device: t.device });
  const R = v.preprocess.resolution;
  const problems: string[] = [];
  try {
    for (const batch of [2, 1]) {
      let outputs: LayerOutput[];
      try {
        outputs = await session.run(randomPixels(batch, R, 7 + batch), batch);
      } catch (err) {
        if (!isZooError(err)) throw err;
        return fail(err.message, err.fix ?? 'check the export', err.file ?? v.onnxPath);
      }
      v.layers.forEach((layer, i) => {
        const out = outputs[i];
        try {
          checkLayerDims(out.dims, layer, v.onnxPath);
          if (out.dims[0] !== batch) problems.push(`output "${layer.output}" has batch ${out.dims[0]} for an input of batch ${batch}`);
          else if (!allFinite(out.data)) problems.push(`output "${layer.output}" (layer ${layer.name}) has NaN or Inf values`);
        } catch (err) {
          if (!isZooError(err)) throw err;
          problems.push(err.message);
        }
      });
      if (problems.length) break;
    }
  } finally {
    await session.release();
  }
  if (problems.length) {
    const shown = problems.slice(0, 2).join('; ') + (problems.length > 2 ? `; … (${problems.length - 2} more)` : '');
    return fail(`${problems.length} of ${v.layers.length} outputs disagree with plugin.json: ${shown}`, 'fix the layers\' "channels", "grid" or "tokenLayout" in plugin.json, or the exporter', v.onnxPath);
  }
  const shapes = [...new Set(v.layers.map((l) => `${l.layout.format} ${fmtShape(expectedOutputDims(l))}`))];
  return pass(`${v.layers.length} layers through the ${v.extractor.kind} extractor: ${shapes.join(', ')}`);
}

export const CHECKS: readonly ConformanceCheck[] = [
  {
    id: 'manifest',
    title: 'plugin.json passes the schema and meaning checks',
    needs: [],
    run: async (t) => t.loadManifest(),
  },
  {
    id: 'onnx-opens',
    title: 'the ONNX file opens in ONNX Runtime',
    needs: ['manifest'],
    run: async (t) => {
      const v = t.variant;
      if (!existsSync(v.onnxPath)) {
        return fail(`no ONNX file at ${v.onnxPath}`, v.onnxOnly ? onnxOnlyPlaceFix(v) : `make it: ${t.exportCommand()}`, v.onnxPath);
      }
      const only = onnxOnlyState(v);
      if (only.state === 'mismatch') {
        const { message, fix } = onnxOnlyMismatch(v, only);
        return fail(message, fix, v.onnxPath);
      }
      const declared = only.state === 'ok' ? `; sha256 ${only.sha256.slice(0, 12)}… as declared (ONNX only)` : '';
      return withSession(t, async (s) => pass(`${s.inputNames.length} input, ${s.outputNames.length} outputs${declared}`));
    },
  },
  {
    id: 'onnx-io',
    title: 'the inputs its extractor feeds (forward: pixel_values [batch, 3, R, R]), one output per layer',
    needs: ['onnx-opens'],
    run: async (t) =>
      t.variant.extractor.kind !== 'forward' ? extractorIo(t) : withSession(t, async (s) => {
        const R = t.variant.preprocess.resolution;
        const file = t.variant.onnxPath;
        const reexport = `re-export it (${t.exportCommand()}), or fix the layers in plugin.json`;
        if (s.inputNames.length !== 1 || s.inputNames[0] !== 'pixel_values') {
          return fail(`the graph's inputs are ${JSON.stringify(s.inputNames)}, not ["pixel_values"]`, 'export with one input named pixel_values (brainzoo_export does)', file);
        }
        const input = s.inputMetadata[0];
        if (input?.isTensor) {
          const dims = input.shape;
          const ok = dims.length === 4 && typeof dims[0] !== 'number' && dims[1] === 3 && dims[2] === R && dims[3] === R;
          if (!ok) {
            return fail(`pixel_values is ${fmtShape(dims)}, not [batch, 3, ${R}, ${R}] (dynamic batch, preprocess.resolution ${R})`, `export at resolution ${R} with a dynamic batch axis, or fix preprocess.resolution in plugin.json`, file);
          }
        }
        const declared = t.variant.layers.map((l) => l.output);
        const missing = declared.filter((o) => !s.outputNames.includes(o));
        const extra = s.outputNames.filter((o) => !declared.includes(o));
        if (missing.length || extra.length) {
          const parts = [missing.length ? `missing declared output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : '', extra.length ? `undeclared output${extra.length > 1 ? 's' : ''} ${extra.join(', ')}` : ''].filter(Boolean);
          return fail(`the graph has ${s.outputNames.length} outputs and plugin.json declares ${declared.length} layers: ${parts.join('; ')}`, reexport, file);
        }
        return pass(`pixel_values [batch, 3, ${R}, ${R}]; ${declared.length} outputs`);
      }),
  },
  {
    id: 'onnx-shapes',
    title: 'output shapes match the layouts at batch 2 and 1, finite values',
    needs: ['onnx-io'],
    run: async (t) =>
      t.variant.extractor.kind !== 'forward' ? extractorShapes(t) : withSession(t, async (s) => {
        const R = t.variant.preprocess.resolution;
        const problems: string[] = [];
        for (const batch of [2, 1]) {
          const feeds = { pixel_values: new ort.Tensor('float32', randomPixels(batch, R, 7 + batch), [batch, 3, R, R]) };
          let outputs: ort.InferenceSession.OnnxValueMapType;
          try {
            outputs = await s.run(feeds);
          } catch (err) {
            return fail(`ONNX Runtime failed at batch ${batch}: ${(err as Error).message.split('\n')[0]}`, `the model must take pixel_values [batch, 3, ${R}, ${R}] with a dynamic batch`, t.variant.onnxPath);
          }
          for (const layer of t.variant.layers) {
            const out = outputs[layer.output];
            try {
              checkLayerDims(out.dims, layer, t.variant.onnxPath);
              if (out.dims[0] !== batch) problems.push(`output "${layer.output}" has batch ${out.dims[0]} for an input of batch ${batch}`);
              else if (!allFinite(out.data as Float32Array)) problems.push(`output "${layer.output}" (layer ${layer.name}) has NaN or Inf values`);
            } catch (err) {
              if (!isZooError(err)) throw err;
              problems.push(err.message);
            }
            out.dispose();
          }
          if (problems.length) break;
        }
        if (problems.length) {
          const shown = problems.slice(0, 2).join('; ') + (problems.length > 2 ? `; … (${problems.length - 2} more)` : '');
          return fail(`${problems.length} of ${t.variant.layers.length} outputs disagree with plugin.json: ${shown}`, 'fix the layers\' "channels" or "tokenLayout" (format, grid, cls, registers) in plugin.json, or the exporter', t.variant.onnxPath);
        }
        const shapes = [...new Set(t.variant.layers.map((l) => `${l.layout.format} ${fmtShape(expectedOutputDims(l))}`))];
        return pass(`${t.variant.layers.length} outputs: ${shapes.join(', ')}`);
      }),
  },
  {
    id: 'features',
    title: `features extract from ${FEATURE_IMAGES} generated images`,
    needs: ['onnx-shapes'],
    run: async (t) => {
      const v = t.variant;
      const R = v.preprocess.resolution;
      const dir = t.tempDir('features');
      const rng = new Rng('plugins-test:features');
      const images: ImageRef[] = [];
      for (let i = 0; i < FEATURE_IMAGES; i++) {
        const img = synthImage(rng, R);
        const path = join(dir, `img${i}.png`);
        await sharp(Buffer.from(img.rgb), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toFile(path);
        images.push({ id: `img${i}`, path });
      }
      const G = 8;
      const { store } = await extractFeatures({ variant: v, images, cacheRoot: join(dir, 'cache'), device: t.device, G, quiet: true });
      try {
        const problems: string[] = [];
        for (const layer of v.layers) {
          const C = layer.channels;
          const local = store.readLocal(layer.index, 0, FEATURE_IMAGES);
          const global = store.readGlobal(layer.index, 0, FEATURE_IMAGES);
          if (local.length !== FEATURE_IMAGES * G * G * C || global.length !== FEATURE_IMAGES * C) {
            problems.push(`layer ${layer.name}: ${local.length} local and ${global.length} global values, expected ${FEATURE_IMAGES}×${G}×${G}×${C} and ${FEATURE_IMAGES}×${C}`);
            continue;
          }
          const per = G * G * C;
          let varies = false;
          for (let i = 0; i < per && !varies; i++) for (let b = 1; b < FEATURE_IMAGES; b++) if (local[b * per + i] !== local[i]) varies = true;
          if (!varies) problems.push(`layer ${layer.name} gives the same local features for every image`);
        }
        if (problems.length) return fail(problems.join('; '), 'the layer\'s output must depend on the input image: check forward_blocks in the exporter', v.onnxPath);
        return pass(`${v.layers.length} layers × ${FEATURE_IMAGES} images, local ${G}×${G}×C and global C, image-dependent`);
      } finally {
        store.close();
      }
    },
  },
  {
    id: 'export',
    title: 'export.py --random-init reproduces the ONNX byte for byte',
    needs: ['onnx-opens'],
    run: async (t) => {
      const v = t.variant;
      if (v.onnxOnly) return skip(`variant ${v.name} is ONNX only: there is no exporter to rerun (its file is checked against the declared sha256 instead)`);
      if (!v.bundled) return skip(`variant ${v.name} is not bundled: its ONNX comes from the official checkpoint, not from --random-init`);
      if (v.finetune && !t.options.fullFixtures) {
        return skip(`${v.name} is a fine-tuned fixture (${v.finetune.steps} training steps: minutes); run with --full-fixtures to regenerate it`);
      }
      if (t.options.export === false) return skip('--no-export: the plugin\'s exporter (its own code) was not run');
      const python = exporterPython(t.manifest);
      const script = join(t.dir, t.manifest.export.script);
      t.options.notice?.(`note: the export check runs the plugin's own code (third-party code unless you wrote it): ${python} ${script} --variant ${v.name} --random-init; --no-export skips it`);
      const probe = probePython(python);
      if (!probe.ok) {
        const message = `no python3 torch (${probe.reason})`;
        return t.options.python === 'required' ? fail(message, PYTHON_FIX) : skip(message, PYTHON_FIX);
      }
      const out = join(t.tempDir('export'), `${v.name}.onnx`);
      runExporter({ dir: t.dir, manifest: t.manifest, variant: v, models: t.options.models, out, randomInit: true, stderr: 'pipe', timeoutMs: (v.finetune ? 30 : 10) * 60_000 });
      // The ONNX and the files its extractor reads beside it (a diffusion UNet's VAE and prompt).
      const extractor = extractorFor(v.extractor, v.manifestPath);
      const committedSides = extractor.sideFiles(v);
      const pairs: [string, string][] = [[out, v.onnxPath], ...extractor.sideFiles({ ...v, onnxPath: out }).map((f, i): [string, string] => [f, committedSides[i]])];
      for (const [regenerated, committedFile] of pairs) {
        const [made, committed] = [existsSync(regenerated) ? sha256File(regenerated) : 'missing', sha256File(committedFile)];
        if (made !== committed) {
          return fail(
            `the regenerated ${relative(dirname(out), regenerated)} (sha256 ${made.slice(0, 12)}) differs from ${relative(t.dir, committedFile) || committedFile} (sha256 ${committed.slice(0, 12)})`,
            `if export.py changed on purpose, regenerate the fixture and commit it: ${t.exportCommand()}; if not, the random init is not deterministic (draw numbers with the NumPy generator passed to init, see plugins/README.md)`,
            committedFile,
          );
        }
      }
      const made = sha256File(out);
      return pass(`same sha256 ${made.slice(0, 12)}${pairs.length > 1 ? ` (and its ${pairs.length - 1} side files)` : ''} (${python})`);
    },
  },
  {
    id: 'fit',
    title: 'a one-epoch fit on a small planted brain runs',
    needs: ['features'],
    run: async (t) => {
      const v = t.variant;
      const root = t.tempDir('fit');
      const cacheRoot = join(root, 'cache');
      const dataset = join(root, 'brain');
      await synthesizeDataset({ out: dataset, variant: v, ...FIT_BRAIN, flat: false, seed: 0, cacheRoot, device: t.device, quiet: true });
      const result = await fitSubject({ variant: v, datasetDir: dataset, subject: 'subj01', outDir: join(root, 'out'), cacheRoot, device: t.device, seed: 0, config: { maxEpochs: 1 }, quiet: true });
      const m = result.metrics;
      const sel = readRunSelections(result.runDir, m, FIT_BRAIN.voxels, ['r2', 'omega']);
      const problems: string[] = [];
      if (m.steps < 1) problems.push(`${m.steps} training steps`);
      if (!Number.isFinite(m.testR2)) problems.push(`test R² is ${m.testR2}`);
      if (sel.L !== v.layers.length) problems.push(`the run selects among ${sel.L} layers, the variant has ${v.layers.length}`);
      for (let n = 0; n < sel.n && problems.length === 0; n++) {
        let sum = 0;
        for (let l = 0; l < sel.L; l++) sum += sel.omega[n * sel.L + l];
        if (!(Math.abs(sum - 1) < 1e-3)) problems.push(`voxel ${n}'s layer weights sum to ${sum}`);
      }
      if (problems.length) return fail(problems.join('; '), 'please report this with the plugin (the features extracted, but the fit misbehaved)', result.runDir);
      return pass(`${FIT_BRAIN.voxels} voxels, ${m.images.train} training images, ${m.steps} steps, test R² ${m.testR2.toFixed(3)}`);
    },
  },
];

export interface ConformanceReport {
  plugin: string;
  dir: string;
  variant: string | null;
  results: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
}

/** Runs every check for one plugin folder and cleans up after itself. */
export async function testPlugin(dir: string, options: ConformanceOptions = {}, onResult?: (r: CheckResult) => void): Promise<ConformanceReport> {
  const t = new PluginUnderTest(dir, options);
  try {
    const results = await t.runAll(onResult);
    return {
      plugin: t.variantName ? t.variant.pluginId : dir,
      dir,
      variant: t.variantName ?? null,
      results,
      passed: results.filter((r) => r.status === 'pass').length,
      failed: results.filter((r) => r.status === 'fail').length,
      skipped: results.filter((r) => r.status === 'skip').length,
    };
  } finally {
    t.dispose();
  }
}
