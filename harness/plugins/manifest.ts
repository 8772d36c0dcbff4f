/**
 * Types of plugins/<id>/plugin.json (as written, mirroring schemas/plugin.schema.json) and of
 * the resolved variant that the rest of the harness uses: defaults applied, variant overrides
 * merged, layer patterns expanded, paths absolute.
 */
export type SelectionAxis = 'layers' | 'timesteps';
export type TokenFormat = 'NLC' | 'NCHW' | 'NHWC';
export type ResizeMode = 'center-crop' | 'squash' | 'pad';
export type Interpolation = 'bilinear' | 'bicubic' | 'nearest';
export type VariantSize = 'tiny' | 'Ti' | 'S' | 'B' | 'L' | 'H' | 'G';

export interface PreprocessSpec {
  resolution?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
  resize?: ResizeMode;
  interpolation?: Interpolation;
  range?: '0-1' | '0-255';
}

export interface TokenLayoutSpec {
  format: TokenFormat;
  cls?: boolean;
  registers?: number;
  grid?: [number, number];
}

export interface LayerSpec {
  name: string;
  output: string;
  channels: number;
  tokenLayout?: TokenLayoutSpec;
  /** This layer's own [rows, cols] (NCHW/NHWC maps of different sizes), over the layout's. */
  grid?: [number, number];
  timestep?: number;
}

/**
 * How features are computed (harness/features/extractors/): `kind` names the extractor, every
 * other field is one of its settings, e.g. {"kind": "diffusion", "inferenceSteps": 50, "prompt": "", "seed": 0}.
 * Absent: {"kind": "forward"} (one pixel pass).
 */
export interface ExtractorSpec {
  kind?: string;
  [setting: string]: unknown;
}

export interface ResolvedExtractor {
  kind: string;
  /** The settings (every field but kind), plugin-level fields overridden by the variant's. */
  settings: Record<string, unknown>;
}

export const DEFAULT_EXTRACTOR_KIND = 'forward';

export interface LayerPattern {
  count: number;
  name: string;
  output: string;
  channels: number;
}

export interface CheckpointSpec {
  url: string;
  file?: string;
  sha256?: string;
  key?: string;
  prefix?: string;
}

/**
 * A variant that exists only as an ONNX file (no checkpoint, not bundled): its file goes at the
 * variant's onnx path; validate and bench check it against `sha256`.
 */
export interface OnnxOnlySpec {
  sha256: string;
  file?: string;
  url?: string;
  madeBy?: string;
}

export interface FinetuneSpec {
  from: string;
  dataset: string;
  /** Generated at export time by plugins/_lib/brainzoo_export/toy_datasets.py (bundled fine-tuned fixtures). */
  generated?: 'shapes' | 'textures';
  steps?: number;
  lr?: number;
  weightDecay?: number;
  batchSize?: number;
  imagesPerClass?: number;
}

/** Scheduler hints for a plugin's or variant's jobs (zoo bench --executor slurm). */
export interface ResourceHints {
  /** sbatch --mem, e.g. "16G". */
  memory?: string;
  gpus?: number;
  /** sbatch --time, e.g. "02:00:00". */
  time?: string;
}

export interface VariantSpec {
  name: string;
  size: VariantSize;
  params?: number;
  trainingData?: string;
  description?: string;
  /** Required unless onnxOnly (a meaning check). */
  arch?: Record<string, number | string | boolean | unknown[]>;
  checkpoint?: CheckpointSpec;
  finetune?: FinetuneSpec;
  onnx?: string;
  onnxOnly?: OnnxOnlySpec;
  bundled?: boolean;
  seed?: number;
  resources?: ResourceHints;
  preprocess?: PreprocessSpec;
  tokenLayout?: TokenLayoutSpec;
  /** Overrides the plugin's selection axis (one diffusion plugin has layer-axis and time-step-axis variants). */
  selectionAxis?: SelectionAxis;
  /** Overrides the plugin's extractor field by field (a different kind replaces it). */
  extractor?: ExtractorSpec;
  layers?: LayerSpec[] | LayerPattern;
}

export interface PluginManifest {
  $schema?: string;
  id: string;
  family: string;
  version: string;
  description?: string;
  license?: string;
  paper: { title: string; authors?: string; year: number; url?: string; code?: string };
  export: { script: string; opset: number; python?: string };
  selectionAxis?: SelectionAxis;
  preprocess: PreprocessSpec;
  tokenLayout?: TokenLayoutSpec;
  extractor?: ExtractorSpec;
  resources?: ResourceHints;
  defaultVariant?: string;
  variants: VariantSpec[];
}

export interface ResolvedPreprocess {
  resolution: number;
  mean: [number, number, number];
  std: [number, number, number];
  resize: ResizeMode;
  interpolation: Interpolation;
  range: '0-1' | '0-255';
}

export interface ResolvedTokenLayout {
  format: TokenFormat;
  cls: boolean;
  registers: number;
  grid: [number, number];
}

export interface ResolvedLayer {
  index: number;
  name: string;
  output: string;
  channels: number;
  layout: ResolvedTokenLayout;
  timestep?: number;
}

export interface ResolvedVariant {
  pluginId: string;
  pluginVersion: string;
  family: string;
  name: string;
  size: VariantSize;
  params?: number;
  trainingData?: string;
  /** build_model()'s keyword arguments ({} for an ONNX-only variant without one). */
  arch: NonNullable<VariantSpec['arch']>;
  checkpoint?: CheckpointSpec;
  /**
   * The checkpoint whose file `zoo export --checkpoint` takes: the variant's own, or, for a
   * fine-tuned variant, that of the variant it starts from (followed through `finetune.from`).
   */
  baseCheckpoint?: CheckpointSpec;
  finetune?: Required<Omit<FinetuneSpec, 'generated'>> & Pick<FinetuneSpec, 'generated'>;
  bundled: boolean;
  /** Present for a variant that exists only as an ONNX file. */
  onnxOnly?: OnnxOnlySpec;
  seed?: number;
  /** The plugin's resource hints, overridden field by field by the variant's. */
  resources: ResourceHints;
  /** Absolute path of the ONNX file (may not exist yet for real checkpoints). */
  onnxPath: string;
  /** Absolute path of the plugin.json that declares the variant (for fixes that name it). */
  manifestPath: string;
  preprocess: ResolvedPreprocess;
  selectionAxis: SelectionAxis;
  /** How the features are computed (default {kind: "forward", settings: {}}). */
  extractor: ResolvedExtractor;
  layers: ResolvedLayer[];
}

/**
 * A whole plugin as the harness understands it: every variant resolved (defaults applied,
 * overrides merged, layers expanded, paths absolute). `zoo plugins show PATH --resolved --json`
 * prints it, and the Python exporter library (plugins/_lib/brainzoo_export/manifest.py) reads
 * it instead of interpreting plugin.json itself: the manifest rules live here only.
 */
export interface ResolvedPlugin {
  /** Identifies the format for the Python reader. */
  format: typeof RESOLVED_PLUGIN_FORMAT;
  /** Absolute path of plugin.json. */
  file: string;
  /** Absolute path of the plugin folder. */
  dir: string;
  id: string;
  version: string;
  family: string;
  selectionAxis: SelectionAxis;
  export: { script: string; opset: number; python?: string };
  /** The variant `export.py --tiny` means (null when the plugin has none). */
  tiny: string | null;
  defaultVariant: string;
  /** Fine-tune recipe for `--finetune DIR` on a variant that declares none. */
  finetuneDefaults: typeof FINETUNE_DEFAULTS;
  variants: ResolvedVariant[];
  /**
   * Where each variant's `arch` is written in plugin.json (a JSON pointer, by variant name). The
   * exporter passes that literal to build_model(): JSON numbers there keep the int/float form
   * the author wrote (1.0 vs 1), which JavaScript's numbers lose.
   */
  archAt: Record<string, string>;
}

export const RESOLVED_PLUGIN_FORMAT = 'brainzoo.resolved-plugin/1';

/** The variant that `export.py --tiny` means: "tiny", else the first bundled one (undefined when there is none). */
export function tinyVariantName(m: Pick<PluginManifest, 'variants'>): string | undefined {
  return (m.variants.find((v) => v.name === 'tiny') ?? m.variants.find((v) => v.bundled))?.name;
}

/** Number of tokens before the patch grid in an NLC output. */
export function prefixTokens(layout: ResolvedTokenLayout): number {
  return layout.format === 'NLC' ? (layout.cls ? 1 : 0) + layout.registers : 0;
}

/** The output tensor shape (without batch) that a layout promises. */
export function expectedOutputDims(layer: ResolvedLayer): number[] {
  const [rows, cols] = layer.layout.grid;
  switch (layer.layout.format) {
    case 'NLC':
      return [prefixTokens(layer.layout) + rows * cols, layer.channels];
    case 'NHWC':
      return [rows, cols, layer.channels];
    case 'NCHW':
      return [layer.channels, rows, cols];
  }
}

/**
 * Bounds on a manifest's size, so that a hostile or mistaken plugin.json is refused before it
 * is expanded (a layer pattern of a billion blocks) or recursed into (nesting 200,000 deep).
 * The schema carries the numeric ones (schemas/plugin.schema.json; a test keeps them equal);
 * every bundled backbone stays far below each (the largest: 40 layers, 1536 channels, a 64×64
 * grid, 4 registers, 9 variants, depth 8, 31 KB).
 */
export const MANIFEST_LIMITS = {
  /** plugin.json file size. */
  bytes: 8 * 1024 * 1024,
  /** Nesting of objects and arrays (checked on the raw text, before parsing). */
  depth: 64,
  /** Variants per plugin. */
  variants: 256,
  /** Layers per variant (a pattern's count, or a list's length). */
  layers: 4096,
  /** Channels per layer. */
  channels: 65536,
  /** Rows and columns of a token grid. */
  grid: 256,
  /** Register tokens of an NLC layout. */
  registers: 256,
  /** A diffusion time step (the diffusion extractor allows 1..inferenceSteps ≤ 1000). */
  timestep: 1000,
} as const;

export const FINETUNE_DEFAULTS = { steps: 3000, lr: 3e-5, weightDecay: 0.01, batchSize: 4, imagesPerClass: 50 } as const;
export const PREPROCESS_DEFAULTS: Omit<ResolvedPreprocess, 'resolution'> = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  resize: 'center-crop',
  interpolation: 'bilinear',
  range: '0-1',
};
