/**
 * Manifest checks, twice: the JSON Schema (ajv, compiled once) for form, then meaning checks
 * that a schema cannot express (names unique, references resolve, layouts consistent).
 * Every problem carries its JSON path and the fix; `zoo plugins validate` lists them all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ZooError } from '../core/errors.js';
import { modelsDir, schemaPath } from '../core/paths.js';
import {
  FINETUNE_DEFAULTS,
  PREPROCESS_DEFAULTS,
  type LayerSpec,
  type PluginManifest,
  type ResolvedLayer,
  type ResolvedTokenLayout,
  type ResolvedVariant,
  type TokenLayoutSpec,
  type VariantSpec,
} from './manifest.js';

export interface ManifestProblem {
  /** JSON pointer into plugin.json, e.g. /variants/2/layers. */
  path: string;
  message: string;
  fix?: string;
}

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    compiled = ajv.compile(JSON.parse(readFileSync(schemaPath('plugin.schema.json'), 'utf8')) as object);
  }
  return compiled;
}

/** Rewrites one ajv error into a path and a fix a person can act on (ESLint's habit). */
function rewriteAjvError(err: ErrorObject): ManifestProblem {
  const path = err.instancePath || '/';
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      return { path: `${err.instancePath}/${extra}`, message: `unexpected property "${extra}"`, fix: `remove "${extra}" or check its spelling against schemas/plugin.schema.json` };
    }
    case 'required':
      return { path, message: `missing required property "${String(params.missingProperty)}"`, fix: `add "${String(params.missingProperty)}"` };
    case 'enum':
      return { path, message: `must be one of ${JSON.stringify(params.allowedValues)}`, fix: `use one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'type':
      return { path, message: `must be ${String(params.type)}` };
    case 'pattern':
      return { path, message: `must match ${String(params.pattern)}` };
    default:
      return { path, message: err.message ?? err.keyword };
  }
}

function layoutProblems(layout: TokenLayoutSpec | undefined, path: string): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  if (!layout) return out;
  if (!layout.grid) out.push({ path: `${path}/grid`, message: 'token layout has no grid', fix: 'add "grid": [rows, cols]' });
  if (layout.format !== 'NLC' && (layout.cls || (layout.registers ?? 0) > 0)) {
    out.push({ path, message: `${layout.format} maps have no CLS or register tokens`, fix: 'remove "cls"/"registers", or use format NLC' });
  }
  return out;
}

export function expandLayers(layers: VariantSpec['layers']): LayerSpec[] | undefined {
  if (!layers) return undefined;
  if (Array.isArray(layers)) return layers;
  return Array.from({ length: layers.count }, (_, i) => ({
    name: layers.name.replaceAll('{i}', String(i)),
    output: layers.output.replaceAll('{i}', String(i)),
    channels: layers.channels,
  }));
}

/** Meaning checks on a schema-valid manifest. */
function meaningProblems(m: PluginManifest, pluginDir: string): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  const folder = basename(pluginDir);
  if (m.id !== folder && !pluginDir.includes('node_modules')) {
    out.push({ path: '/id', message: `id "${m.id}" differs from its folder "${folder}"`, fix: `rename the folder to plugins/${m.id}/ or set "id": "${folder}"` });
  }
  if (!existsSync(join(pluginDir, m.export.script))) {
    out.push({ path: '/export/script', message: `export script ${m.export.script} not found in ${pluginDir}`, fix: 'add the exporter (see plugins/README.md) or fix the path' });
  }
  out.push(...layoutProblems(m.tokenLayout, '/tokenLayout'));
  const names = new Map<string, number>();
  m.variants.forEach((v, i) => {
    const at = `/variants/${i}`;
    if (names.has(v.name)) out.push({ path: `${at}/name`, message: `variant "${v.name}" is declared twice (also /variants/${names.get(v.name)})`, fix: 'give each variant a unique tag' });
    names.set(v.name, i);
    out.push(...layoutProblems(v.tokenLayout, `${at}/tokenLayout`));
    if (v.finetune && !m.variants.some((o) => o.name === v.finetune?.from)) {
      out.push({ path: `${at}/finetune/from`, message: `fine-tune source "${v.finetune.from}" is not a variant of this plugin`, fix: `use one of ${m.variants.map((o) => o.name).join(', ')}` });
    }
    if (v.finetune?.from === v.name) out.push({ path: `${at}/finetune/from`, message: 'a variant cannot be fine-tuned from itself', fix: 'name the pre-trained variant' });
    const source = v.finetune ? m.variants.find((o) => o.name === v.finetune?.from) : undefined;
    const layers = expandLayers(v.layers ?? source?.layers);
    if (!layers) {
      out.push({ path: `${at}/layers`, message: 'variant declares no layers', fix: 'add "layers": {"count": N, "name": "blocks.{i}", "output": "block_{i}", "channels": C}' });
      return;
    }
    const outputs = new Map<string, number>();
    const hasLayout = Boolean(v.tokenLayout ?? source?.tokenLayout ?? m.tokenLayout);
    layers.forEach((l, j) => {
      if (outputs.has(l.output)) out.push({ path: `${at}/layers/${j}/output`, message: `ONNX output "${l.output}" is used by two layers (also layer ${outputs.get(l.output)})`, fix: 'each layer reads its own output' });
      outputs.set(l.output, j);
      out.push(...layoutProblems(l.tokenLayout, `${at}/layers/${j}/tokenLayout`));
      if (!hasLayout && !l.tokenLayout) out.push({ path: `${at}/layers/${j}`, message: 'no token layout for this layer', fix: 'add "tokenLayout" at the plugin, variant or layer level' });
    });
    const axis = m.selectionAxis ?? 'layers';
    if (axis === 'timesteps' && layers.some((l) => l.timestep === undefined)) {
      out.push({ path: `${at}/layers`, message: 'selectionAxis is "timesteps" but a layer has no "timestep"', fix: 'give every entry its diffusion time step' });
    }
    if (!v.bundled && !v.checkpoint && !v.finetune) {
      out.push({ path: at, message: `variant "${v.name}" has no checkpoint and is neither bundled nor fine-tuned`, fix: 'add "checkpoint": {"url": …} saying where the official weights come from' });
    }
    if (v.bundled && !v.onnx) out.push({ path: `${at}/onnx`, message: 'a bundled variant must name its ONNX fixture', fix: 'add "onnx": "../../fixtures/<id>/tiny.onnx"' });
    if (v.bundled && source && !source.bundled) {
      out.push({ path: `${at}/finetune/from`, message: `bundled variant "${v.name}" is fine-tuned from "${source.name}", which is not bundled`, fix: 'fine-tune a bundled fixture from the bundled tiny variant, so that the default run has both sides of the fine-tune drop' });
    }
  });
  if (m.defaultVariant && !names.has(m.defaultVariant)) {
    out.push({ path: '/defaultVariant', message: `default variant "${m.defaultVariant}" is not declared`, fix: `use one of ${[...names.keys()].join(', ')}` });
  }
  return out;
}

export interface ManifestCheck {
  file: string;
  manifest?: PluginManifest;
  problems: ManifestProblem[];
}

/** Reads and checks plugins/<id>/plugin.json; never throws for bad content (problems are listed). */
export function checkManifestFile(file: string): ManifestCheck {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    return { file, problems: [{ path: '/', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, fix: 'every plugin folder needs a plugin.json (zoo plugins new NAME makes one)' }] };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { file, problems: [{ path: '/', message: `invalid JSON: ${(err as Error).message}`, fix: 'fix the JSON syntax' }] };
  }
  const validate = schemaValidator();
  if (!validate(json)) return { file, problems: (validate.errors ?? []).map(rewriteAjvError) };
  const manifest = json as PluginManifest;
  return { file, manifest, problems: meaningProblems(manifest, resolve(file, '..')) };
}

function resolveLayout(spec: TokenLayoutSpec | undefined): ResolvedTokenLayout | undefined {
  if (!spec?.grid) return undefined;
  return { format: spec.format, cls: spec.format === 'NLC' ? Boolean(spec.cls) : false, registers: spec.format === 'NLC' ? (spec.registers ?? 0) : 0, grid: spec.grid };
}

/** Applies defaults and overrides; the manifest must have passed checkManifestFile. */
export function resolveVariant(m: PluginManifest, pluginDir: string, variantName: string | undefined, models?: string): ResolvedVariant {
  const name = variantName ?? m.defaultVariant ?? m.variants[0].name;
  const v = m.variants.find((x) => x.name === name);
  if (!v) {
    throw new ZooError('E_VARIANT_UNKNOWN', `plugin "${m.id}" has no variant "${name}"`, {
      file: join(pluginDir, 'plugin.json'),
      fix: `use --variant with one of: ${m.variants.map((x) => x.name).join(', ')}`,
    });
  }
  const source = v.finetune ? m.variants.find((x) => x.name === v.finetune?.from) : undefined;
  const pre = { ...PREPROCESS_DEFAULTS, ...m.preprocess, ...source?.preprocess, ...v.preprocess };
  if (!pre.resolution) throw new ZooError('E_PLUGIN_MANIFEST', `no input resolution for ${m.id}/${name}`, { file: join(pluginDir, 'plugin.json'), path: '/preprocess/resolution', fix: 'add "resolution"' });
  const baseLayout = v.tokenLayout ?? source?.tokenLayout ?? m.tokenLayout;
  const layers: ResolvedLayer[] = (expandLayers(v.layers ?? source?.layers) ?? []).map((l, index) => {
    const layout = resolveLayout(l.tokenLayout ?? baseLayout);
    if (!layout) throw new ZooError('E_PLUGIN_MANIFEST', `no token layout for layer ${l.name} of ${m.id}/${name}`, { file: join(pluginDir, 'plugin.json'), fix: 'add "tokenLayout"' });
    return { index, name: l.name, output: l.output, channels: l.channels, layout, ...(l.timestep !== undefined ? { timestep: l.timestep } : {}) };
  });
  const onnxPath = v.onnx ? resolve(pluginDir, v.onnx) : join(modelsDir(models), m.id, `${name}.onnx`);
  return {
    pluginId: m.id,
    pluginVersion: m.version,
    family: m.family,
    name,
    size: v.size,
    params: v.params,
    trainingData: v.trainingData,
    arch: v.arch,
    checkpoint: v.checkpoint,
    finetune: v.finetune ? { ...FINETUNE_DEFAULTS, ...v.finetune } : undefined,
    bundled: Boolean(v.bundled),
    seed: v.seed,
    onnxPath,
    preprocess: pre as ResolvedVariant['preprocess'],
    selectionAxis: m.selectionAxis ?? 'layers',
    layers,
  };
}
