/**
 * The extractor registry: plugin.json's "extractor": {"kind": …} names one of these. A new kind
 * (video, multi-crop) is one new file implementing `Extractor` (types.ts), listed here.
 */
import { ZooError } from '../../core/errors.js';
import { DEFAULT_EXTRACTOR_KIND, type ExtractorSpec, type ResolvedExtractor } from '../../plugins/manifest.js';
import { diffusionExtractor } from './diffusion.js';
import { forwardExtractor } from './forward.js';
import type { Extractor } from './types.js';

export type { Extractor, ExtractorSession, LayerOutput } from './types.js';

const EXTRACTORS: ReadonlyMap<string, Extractor> = new Map([forwardExtractor, diffusionExtractor].map((e) => [e.kind, e]));

export function extractorKinds(): string[] {
  return [...EXTRACTORS.keys()];
}

export function findExtractor(kind: string): Extractor | undefined {
  return EXTRACTORS.get(kind);
}

export function extractorFor(ext: ResolvedExtractor, manifestPath?: string): Extractor {
  const found = EXTRACTORS.get(ext.kind);
  if (!found) throw new ZooError('E_PLUGIN_MANIFEST', `unknown extractor "${ext.kind}"`, { file: manifestPath, fix: `use "extractor": {"kind": ${extractorKinds().map((k) => `"${k}"`).join(' | ')}}` });
  return found;
}

/**
 * The extractor of a variant: the plugin's, overridden field by field by the fine-tune source's
 * and then the variant's; a level that names another kind replaces what came before.
 */
export function resolveExtractor(...levels: (ExtractorSpec | undefined)[]): ResolvedExtractor {
  let kind = DEFAULT_EXTRACTOR_KIND;
  let settings: Record<string, unknown> = {};
  for (const level of levels) {
    if (!level) continue;
    const { kind: k, ...rest } = level;
    if (k !== undefined && k !== kind) {
      kind = k;
      settings = {};
    }
    settings = { ...settings, ...rest };
  }
  return { kind, settings };
}
