/**
 * The extractor interface: how one batch of preprocessed images becomes each layer's raw output.
 * extract.ts owns everything around it (image decoding, the cache entry, decoding the token
 * layouts, G×G resizing, fp16, progress, resume); an extractor only runs models. A new kind of
 * backbone (video, multi-crop) is one new file here, listed in index.ts.
 */
import type { ManifestProblem } from '../../plugins/validate.js';
import type { LayerSpec, ResolvedExtractor, ResolvedPreprocess, ResolvedVariant } from '../../plugins/manifest.js';
import type { Device } from '../session.js';

/** One layer's output for a batch: batch-first dims, in the layer's declared token layout. */
export interface LayerOutput {
  data: Float32Array;
  dims: readonly number[];
  /** Frees the tensor behind `data` once decoded. */
  dispose?: () => void;
}

export interface ExtractorSession {
  /**
   * Pixels of n images (n×3×R×R, the manifest's preprocess) → one output per variant layer, in
   * the variant's layer order. `progress`, when given, receives the units done as they are done
   * (n per UNet call for the diffusion extractor), so progress moves within a long batch.
   */
  run(pixels: Float32Array, n: number, progress?: (units: number) => void): Promise<LayerOutput[]>;
  /** Progress units per image (the diffusion extractor: its UNet calls); 1 when absent. */
  readonly unitsPerImage?: number;
  release(): Promise<void>;
}

export interface ExtractorOpenOptions {
  device: Device;
  threads?: number;
  gpu?: number;
}

/** What the meaning checks of plugin.json give an extractor to look at (one variant). */
export interface ExtractorCheckInput {
  extractor: ResolvedExtractor;
  layers: readonly LayerSpec[];
  /** The variant's merged preprocess (resolution may be missing in a broken manifest). */
  preprocess: Partial<ResolvedPreprocess>;
  /** JSON pointer of the variant, e.g. /variants/2. */
  at: string;
  /** JSON pointer where the extractor's settings are written (the variant's or the plugin's). */
  settingsAt: string;
}

export interface Extractor {
  readonly kind: string;
  /** One line for docs and errors. */
  readonly summary: string;
  /** Meaning checks on the settings and the layers; an empty list when all is well. */
  check(input: ExtractorCheckInput): ManifestProblem[];
  /**
   * What the feature cache key adds for this extractor (its settings, the hashes of the files it
   * reads besides the ONNX). Undefined for `forward`, so keys made before the registry stay.
   */
  keyPart(variant: ResolvedVariant): Record<string, unknown> | undefined;
  /**
   * Files besides variant.onnxPath that the extractor reads, named from that path alone (the
   * manifest checks keep them inside the plugin folder, and exports do not overwrite them).
   */
  sideFiles(variant: Pick<ResolvedVariant, 'onnxPath'>): string[];
  open(variant: ResolvedVariant, opts: ExtractorOpenOptions): Promise<ExtractorSession>;
  /**
   * A variant with the same outputs that is cheaper to run, for shape checks (`zoo plugins
   * validate`): the diffusion extractor reads every layer at T = 1.
   */
  probeVariant?(variant: ResolvedVariant): ResolvedVariant;
}
