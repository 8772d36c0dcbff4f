/**
 * Manifest checks, twice: the JSON Schema (ajv, compiled once) for form, then meaning checks
 * that a schema cannot express (names unique, references resolve, layouts consistent).
 * Every problem carries its JSON path and the fix; `zoo plugins validate` lists them all.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ZooError, shortRepr } from '../core/errors.js';
import { JsonTooDeepError, parseJsonText } from '../core/json.js';
import { modelsDir, schemaPath } from '../core/paths.js';
import {
  FINETUNE_DEFAULTS,
  MANIFEST_LIMITS,
  PREPROCESS_DEFAULTS,
  RESOLVED_PLUGIN_FORMAT,
  tinyVariantName,
  type ResolvedPlugin,
  type LayerSpec,
  type PluginManifest,
  type ResolvedLayer,
  type ResolvedTokenLayout,
  type ResolvedVariant,
  type TokenLayoutSpec,
  type VariantSpec,
} from './manifest.js';
import { extractorKinds, findExtractor, resolveExtractor } from '../features/extractors/index.js';
import { manifestPathProblems } from './containment.js';

export interface ManifestProblem {
  /** JSON pointer into plugin.json, e.g. /variants/2/layers. */
  path: string;
  message: string;
  fix?: string;
  /**
   * A path the manifest names that leaves the plugin folder (containment.ts): validate lists
   * it like any problem, and every command that would use the plugin refuses it (exit 2).
   */
  escapes?: true;
}

let compiled: { validate: ValidateFunction; schema: SchemaNode } | undefined;

function schemaValidator(): { validate: ValidateFunction; schema: SchemaNode } {
  if (!compiled) {
    // verbose: each error carries the failing value and the sub-schema, for the fix's example.
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    const schema = JSON.parse(readFileSync(schemaPath('plugin.schema.json'), 'utf8')) as SchemaNode;
    compiled = { validate: ajv.compile(schema), schema };
  }
  return compiled;
}

/** The parts of a JSON Schema (draft-07) node that the fixes read. */
export interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  examples?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  oneOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
}

/** Plain words for each pattern of schemas/plugin.schema.json (a test checks that none lacks them). */
export const PATTERN_WORDS: Record<string, string> = {
  '^[a-z][a-z0-9-]*$': 'lower-case letters, digits and dashes, starting with a letter',
  '^\\d+\\.\\d+\\.\\d+$': 'a version of three dot-separated numbers, MAJOR.MINOR.PATCH',
  '\\{i\\}': 'a name with "{i}" where the block index goes',
  '^[0-9a-f]{64}$': '64 lower-case hexadecimal digits (the first word of `sha256sum FILE`)',
  '^[a-z0-9][a-z0-9._-]*$': 'lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit',
  '^[0-9]+[KMGT]?$': 'a size as sbatch --mem takes it: a number of megabytes, or a number with K, M, G or T',
  '^([0-9]+-)?[0-9]+(:[0-9]{2}){0,2}$': 'a time limit as sbatch --time takes it: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS',
  '\\.onnx$': 'a path ending in .onnx, relative to the plugin folder and inside it',
  '^[^/\\\\]+$': 'a file name without folders (no / or \\)',
};

/** Follows a local "#/definitions/NAME" reference. */
export function deref(node: SchemaNode, root: SchemaNode): SchemaNode {
  let n = node;
  for (let hops = 0; n.$ref && hops < 8; hops++) {
    const name = n.$ref.replace(/^#\/definitions\//, '');
    const target = root.definitions?.[name];
    if (!target) break;
    n = target;
  }
  return n;
}

/**
 * A value that the sub-schema accepts, for a fix to show: the schema's own `examples` first, then
 * its default or first enum value, else one built from the type and limits (objects from their
 * required properties). Undefined only for a string without examples (a test keeps that from happening).
 */
export function exampleOf(node: SchemaNode, root: SchemaNode): unknown {
  const n = deref(node, root);
  if (n.examples?.length) return n.examples[0];
  if (n.default !== undefined) return n.default;
  if (n.enum?.length) return n.enum[0];
  if (n.oneOf?.length) return exampleOf(n.oneOf[0], root);
  const type = Array.isArray(n.type) ? n.type[0] : n.type;
  switch (type) {
    case 'integer':
      return n.exclusiveMinimum !== undefined ? Math.floor(n.exclusiveMinimum) + 1 : Math.max(n.minimum ?? 1, Math.min(1, n.maximum ?? 1));
    case 'number':
      return n.exclusiveMinimum !== undefined ? n.exclusiveMinimum + 0.5 : (n.minimum ?? 0.5);
    case 'boolean':
      return true;
    case 'array': {
      const item = n.items ? exampleOf(n.items, root) : undefined;
      return item === undefined ? [] : Array.from({ length: Math.max(1, n.minItems ?? 1) }, () => item);
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of n.required ?? []) {
        const value = n.properties?.[key] ? exampleOf(n.properties[key], root) : undefined;
        if (value === undefined) return undefined;
        out[key] = value;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** "a list of {"name", "output", "channels"} objects", "an object with "count", "name"": one branch of a oneOf in words. */
function formOf(node: SchemaNode, root: SchemaNode): string {
  const n = deref(node, root);
  const keys = (m: SchemaNode): string => (m.required ?? Object.keys(m.properties ?? {})).map((k) => `"${k}"`).join(', ');
  if (n.type === 'array' && n.items) {
    const item = deref(n.items, root);
    return item.type === 'object' ? `a list of {${keys(item)}} objects` : `a list of ${String(item.type)}s`;
  }
  if (n.type === 'object') return `an object with ${keys(n)}`;
  return article(String(n.type ?? 'value'));
}

const article = (type: string): string => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

/** `"key": value` when the path ends in a property name, else the value alone. */
function exampleText(instancePath: string, example: unknown): string {
  const key = instancePath.split('/').pop() ?? '';
  const value = JSON.stringify(example);
  return key && !/^\d+$/.test(key) ? `"${key}": ${value}` : value;
}

function foundText(data: unknown): string {
  return data === undefined ? '' : ` (found ${shortRepr(data, 60)})`;
}

/** Rewrites one ajv error into the path, the problem and a fix with an example (ESLint's habit). */
function rewriteAjvError(err: ErrorObject, root: SchemaNode): ManifestProblem {
  const path = err.instancePath || '/';
  const params = err.params as Record<string, unknown>;
  const sub = (err.parentSchema ?? {}) as SchemaNode;
  const example = exampleOf(sub, root);
  const eg = example === undefined ? '' : `, e.g. ${exampleText(err.instancePath, example)}`;
  const found = foundText(err.data);
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const expected = Object.keys(deref(sub, root).properties ?? {}).map((k) => `"${k}"`).join(', ');
      return { path: `${err.instancePath}/${extra}`, message: `unexpected property "${extra}"`, fix: `remove "${extra}" or check its spelling; expected properties: ${expected}` };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const value = deref(sub, root).properties?.[missing];
      const ex = value ? exampleOf(value, root) : undefined;
      return { path, message: `missing required property "${missing}"`, fix: `add "${missing}"${ex === undefined ? '' : `, e.g. "${missing}": ${JSON.stringify(ex)}`}` };
    }
    case 'enum':
      return { path, message: `must be one of ${JSON.stringify(params.allowedValues)}${found}`, fix: `use one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'type': {
      const types = String(params.type).split(',');
      const what = types.map(article).join(' or ');
      return { path, message: `must be ${what}${found}`, fix: `write ${what}${eg}` };
    }
    case 'pattern': {
      const pattern = String(params.pattern);
      return { path, message: `does not match ${pattern}${found}`, fix: `use ${PATTERN_WORDS[pattern] ?? `a string matching ${pattern}`}${eg}` };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${String(params.comparison)} ${String(params.limit)}${found}`, fix: `use a number ${String(params.comparison)} ${String(params.limit)}${eg}` };
    case 'minItems':
    case 'maxItems': {
      const n = deref(sub, root);
      const count = n.minItems !== undefined && n.minItems === n.maxItems ? `exactly ${n.minItems}` : err.keyword === 'minItems' ? `at least ${String(params.limit)}` : `at most ${String(params.limit)}`;
      return { path, message: `must have ${count} item${params.limit === 1 ? '' : 's'}${found}`, fix: `give ${count}${eg}` };
    }
    case 'minLength':
      return { path, message: 'must not be empty', fix: `write some text${eg}` };
    case 'oneOf': {
      const forms = (deref(sub, root).oneOf ?? []).map((b) => formOf(b, root));
      return { path, message: `matches none of the allowed forms${found}`, fix: `write ${forms.join(' or ')}${eg}` };
    }
    default:
      return { path, message: `${err.message ?? err.keyword}${found}`, fix: `see schemas/plugin.schema.json at ${err.schemaPath}${eg}` };
  }
}

/**
 * ajv's errors as problems. Where a value matched no branch of a oneOf, the branches whose type
 * did not fit are dropped, and the summary too when the fitting branch says what is wrong.
 */
function schemaProblems(errors: readonly ErrorObject[], root: SchemaNode): ManifestProblem[] {
  const oneOfAt = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const kept = errors.filter((e) => !(e.keyword === 'type' && oneOfAt.has(e.instancePath)));
  const specific = (at: string): boolean => kept.some((e) => e.keyword !== 'oneOf' && (e.instancePath === at || e.instancePath.startsWith(`${at}/`)));
  return kept.filter((e) => !(e.keyword === 'oneOf' && specific(e.instancePath))).map((e) => rewriteAjvError(e, root));
}

/** `gridFromLayers`: every layer that uses this layout gives its own "grid", so the layout may omit it. */
function layoutProblems(layout: TokenLayoutSpec | undefined, path: string, gridFromLayers = false): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  if (!layout) return out;
  if (!layout.grid && !gridFromLayers) out.push({ path: `${path}/grid`, message: 'token layout has no grid', fix: 'add "grid": [rows, cols], or a "grid" to each layer (maps of different sizes)' });
  if (layout.format === 'NLC' && layout.grid && layout.grid[0] !== layout.grid[1]) {
    // The decoder reshapes the patch tokens row-major into rows × cols; the count alone cannot
    // tell 14×14 from 7×28, the geometry can: the input is square, and so are its patches.
    const [rows, cols] = layout.grid;
    const side = Math.sqrt(rows * cols);
    out.push({
      path: `${path}/grid`,
      message: `NLC token grid ${rows}×${cols} is not square, but the input is a square image (preprocess.resolution on each side) cut into square patches`,
      fix: `${Number.isInteger(side) ? `"grid": [${side}, ${side}] (the same ${rows * cols} tokens); ` : ''}rows = cols = resolution / patch size`,
    });
  }
  if (layout.format !== 'NLC' && (layout.cls || (layout.registers ?? 0) > 0)) {
    out.push({ path, message: `${layout.format} maps have no CLS or register tokens`, fix: 'remove "cls"/"registers", or use format NLC' });
  }
  return out;
}

/** A variant's layers, a pattern expanded (refused past MANIFEST_LIMITS.layers before anything is allocated). */
export function expandLayers(layers: VariantSpec['layers']): LayerSpec[] | undefined {
  if (!layers) return undefined;
  if (Array.isArray(layers)) return layers;
  if (!Number.isInteger(layers.count) || layers.count < 1 || layers.count > MANIFEST_LIMITS.layers) {
    throw new ZooError('E_PLUGIN_MANIFEST', `a layer pattern of ${layers.count} blocks (at most ${MANIFEST_LIMITS.layers})`, { found: layers.count, fix: `use a "count" from 1 to ${MANIFEST_LIMITS.layers} (zoo plugins validate lists every problem)` });
  }
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
  const paths = manifestPathProblems(m, pluginDir);
  out.push(...paths);
  if (!paths.some((p) => p.path === '/export/script')) {
    const script = join(pluginDir, m.export.script);
    if (!existsSync(script)) out.push({ path: '/export/script', message: `export script ${m.export.script} not found in ${pluginDir}`, fix: 'add the exporter (see plugins/README.md) or fix the path' });
    else if (!statSync(script).isFile()) out.push({ path: '/export/script', message: `export script ${m.export.script} is not a file`, fix: 'name the exporter file, e.g. "script": "export.py"' });
  }
  const layersOf = (v: VariantSpec): LayerSpec[] => expandLayers(v.layers ?? m.variants.find((o) => o.name === v.finetune?.from)?.layers) ?? [];
  const ownGrid = (l: LayerSpec): boolean => Boolean(l.grid ?? l.tokenLayout?.grid);
  out.push(...layoutProblems(m.tokenLayout, '/tokenLayout', m.variants.every((v) => layersOf(v).every(ownGrid))));
  if (m.extractor) out.push(...extractorKindProblems(m.extractor.kind, '/extractor/kind'));
  const names = new Map<string, number>();
  m.variants.forEach((v, i) => {
    const at = `/variants/${i}`;
    if (names.has(v.name)) out.push({ path: `${at}/name`, message: `variant "${v.name}" is declared twice (also /variants/${names.get(v.name)})`, fix: 'give each variant a unique tag' });
    names.set(v.name, i);
    out.push(...layoutProblems(v.tokenLayout, `${at}/tokenLayout`, layersOf(v).every(ownGrid)));
    if (v.extractor) out.push(...extractorKindProblems(v.extractor.kind, `${at}/extractor/kind`));
    if (v.finetune && !m.variants.some((o) => o.name === v.finetune?.from)) {
      out.push({ path: `${at}/finetune/from`, message: `fine-tune source "${v.finetune.from}" is not a variant of this plugin`, fix: `use one of ${m.variants.map((o) => o.name).join(', ')}` });
    }
    if (v.finetune?.from === v.name) out.push({ path: `${at}/finetune/from`, message: 'a variant cannot be fine-tuned from itself', fix: 'name the pre-trained variant' });
    const source = v.finetune ? m.variants.find((o) => o.name === v.finetune?.from) : undefined;
    if (source && source !== v && !source.onnxOnly && !sameJson(source.arch, v.arch)) {
      // export.py builds one network, loads the source's weights (or its random init) and fine-tunes it
      out.push({ path: `${at}/arch`, message: `variant "${v.name}" is fine-tuned from "${source.name}" but their arch differ`, fix: `copy the arch of "${source.name}" into "${v.name}": fine-tuning changes the weights, not the architecture` });
    }
    const layers = expandLayers(v.layers ?? source?.layers);
    if (!layers) {
      out.push({ path: `${at}/layers`, message: 'variant declares no layers', fix: 'add "layers": {"count": N, "name": "blocks.{i}", "output": "block_{i}", "channels": C}' });
      return;
    }
    // A layer is (output, time step): one output may be read at several time steps.
    const pairs = new Map<string, number>();
    const baseLayout = v.tokenLayout ?? source?.tokenLayout ?? m.tokenLayout;
    const extractor = resolveExtractor(m.extractor, source?.extractor, v.extractor);
    layers.forEach((l, j) => {
      const pair = `${l.output}\u0000${l.timestep ?? ''}`;
      if (pairs.has(pair)) {
        out.push({
          path: `${at}/layers/${j}/output`,
          message: l.timestep === undefined ? `ONNX output "${l.output}" is used by two layers (also layer ${pairs.get(pair)})` : `ONNX output "${l.output}" at time step ${l.timestep} is declared twice (also layer ${pairs.get(pair)})`,
          fix: l.timestep === undefined ? 'each layer reads its own output, or, with the diffusion extractor, give each entry its own "timestep"' : 'a layer is (output, timestep): give each entry of one output a different "timestep"',
        });
      }
      pairs.set(pair, j);
      out.push(...layoutProblems(l.tokenLayout, `${at}/layers/${j}/tokenLayout`, Boolean(l.grid)));
      if (!baseLayout && !l.tokenLayout) out.push({ path: `${at}/layers/${j}`, message: 'no token layout for this layer', fix: 'add "tokenLayout" at the plugin, variant or layer level' });
      if (l.grid && (l.tokenLayout ?? baseLayout)?.format === 'NLC') {
        out.push({ path: `${at}/layers/${j}/grid`, message: 'a layer\'s own "grid" is for NCHW / NHWC maps; NLC tokens take theirs from the token layout', fix: 'remove "grid" or use format NCHW / NHWC' });
      }
    });
    const ext = findExtractor(extractor.kind);
    if (ext) {
      const settingsAt = v.extractor ? `${at}/extractor` : source?.extractor ? `/variants/${m.variants.indexOf(source)}/extractor` : '/extractor';
      const preprocess = { ...PREPROCESS_DEFAULTS, ...m.preprocess, ...source?.preprocess, ...v.preprocess };
      const problems = ext.check({ extractor, layers, preprocess, at, settingsAt });
      out.push(...problems.map((p) => ({ ...p, message: `${p.message} (plugin.json, variant "${v.name}")` })));
      if (ext.kind === 'forward') {
        const seen = new Map<string, number>();
        layers.forEach((l, j) => {
          const first = seen.get(l.output);
          if (first !== undefined && layers[first].timestep !== l.timestep) {
            out.push({ path: `${at}/layers/${j}/output`, message: `ONNX output "${l.output}" is used by two layers (also layer ${first}) at different time steps, but the forward extractor has no time steps`, fix: 'use "extractor": {"kind": "diffusion", …} for time steps, or give each layer its own output' });
          }
          if (first === undefined) seen.set(l.output, j);
        });
      }
    }
    const axis = v.selectionAxis ?? source?.selectionAxis ?? m.selectionAxis ?? 'layers';
    if (axis === 'timesteps' && layers.some((l) => l.timestep === undefined)) {
      out.push({ path: `${at}/layers`, message: 'selectionAxis is "timesteps" but a layer has no "timestep"', fix: 'give every entry its diffusion time step' });
    }
    if (!v.bundled && !v.checkpoint && !v.finetune && !v.onnxOnly) {
      out.push({ path: at, message: `variant "${v.name}" has no checkpoint and is neither bundled, fine-tuned nor ONNX only`, fix: 'add "checkpoint": {"url": …} saying where the official weights come from, or, if all you have is an ONNX file, "onnxOnly": {"sha256": "<sha256sum of the file>"}' });
    }
    if (!v.arch && !v.onnxOnly) {
      out.push({ path: at, message: 'missing required property "arch"', fix: `add "arch", e.g. "arch": {"patch_size":16,"num_layers":12,"num_heads":12,"hidden_dim":768} (the keyword arguments of build_model() in ${m.export.script}); or, for a variant that exists only as an ONNX file, "onnxOnly": {"sha256": …}` });
    }
    if (v.onnxOnly) {
      const other = (['checkpoint', 'finetune', 'bundled'] as const).filter((k) => v[k] !== undefined && v[k] !== false);
      if (other.length) {
        out.push({ path: `${at}/onnxOnly`, message: `an ONNX-only variant has no ${other.map((k) => `"${k}"`).join(' or ')}: its weights are the ONNX file`, fix: `remove ${other.map((k) => `"${k}"`).join(' and ')}, or remove "onnxOnly" if export.py makes this variant` });
      }
    }
    if (source?.onnxOnly) {
      out.push({ path: `${at}/finetune/from`, message: `"${v.name}" is fine-tuned from "${source.name}", which is ONNX only: export.py fine-tunes PyTorch weights`, fix: `fine-tune from a variant with a "checkpoint", or declare "${v.name}" ONNX only too (with the fine-tuned file's sha256)` });
    }
    if (v.bundled && !v.onnx) out.push({ path: `${at}/onnx`, message: 'a bundled variant must name its ONNX fixture', fix: 'add "onnx": "fixtures/tiny.onnx" (a path inside the plugin folder)' });
    if (v.bundled && source && !source.bundled) {
      out.push({ path: `${at}/finetune/from`, message: `bundled variant "${v.name}" is fine-tuned from "${source.name}", which is not bundled`, fix: 'fine-tune a bundled fixture from the bundled tiny variant, so that the default run has both sides of the fine-tune drop' });
    }
  });
  if (m.defaultVariant && !names.has(m.defaultVariant)) {
    out.push({ path: '/defaultVariant', message: `default variant "${m.defaultVariant}" is not declared`, fix: `use one of ${[...names.keys()].join(', ')}` });
  }
  return out;
}

function extractorKindProblems(kind: string | undefined, path: string): ManifestProblem[] {
  if (kind === undefined || findExtractor(kind)) return [];
  return [{ path, message: `unknown extractor "${kind}"`, fix: `use one of ${extractorKinds().map((k) => `"${k}"`).join(', ')} (harness/features/extractors/)` }];
}

/** Deep equality of two JSON values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export interface ManifestCheck {
  file: string;
  manifest?: PluginManifest;
  problems: ManifestProblem[];
}

/** "cannot read: …" for a Node file-system error, in words where the code alone would puzzle. */
function unreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'cannot read: a symbolic-link loop (ELOOP)';
  if (code === 'ENOENT') return 'cannot read: no such file (ENOENT)';
  return `cannot read: ${code ?? String(err)}`;
}

/**
 * Reads and checks plugins/<id>/plugin.json; never throws for bad content (problems are listed).
 * A leading UTF-8 byte order mark is allowed; a file over MANIFEST_LIMITS.bytes, or nested
 * deeper than MANIFEST_LIMITS.depth, is refused before it is parsed.
 */
export function checkManifestFile(file: string): ManifestCheck {
  const whole = (message: string, fix: string): ManifestCheck => ({ file, problems: [{ path: '/', message, fix }] });
  let raw: string;
  try {
    const bytes = statSync(file).size;
    if (bytes > MANIFEST_LIMITS.bytes) {
      return whole(`plugin.json is ${(bytes / 2 ** 20).toFixed(1)} MiB; a plugin.json may be at most ${MANIFEST_LIMITS.bytes / 2 ** 20} MiB`, 'a manifest declares variants and layers (a layer pattern for repeated blocks); keep data out of it');
    }
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    return whole(unreadable(err), 'every plugin folder needs a plugin.json (zoo plugins new NAME makes one)');
  }
  let json: unknown;
  try {
    json = parseJsonText(raw, MANIFEST_LIMITS.depth);
  } catch (err) {
    if (err instanceof JsonTooDeepError) return whole(`objects and lists nested more than ${err.limit} levels deep`, `a plugin.json nests a few levels (variants, layers, layouts); flatten it below ${err.limit} levels`);
    return whole(`invalid JSON: ${(err as Error).message}`, 'fix the JSON syntax');
  }
  const { validate, schema } = schemaValidator();
  if (!validate(json)) return { file, problems: schemaProblems(validate.errors ?? [], schema) };
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
    const spec = l.tokenLayout ?? baseLayout;
    const layout = resolveLayout(spec && l.grid ? { ...spec, grid: l.grid } : spec);
    if (!layout) throw new ZooError('E_PLUGIN_MANIFEST', `no token layout for layer ${l.name} of ${m.id}/${name}`, { file: join(pluginDir, 'plugin.json'), fix: 'add "tokenLayout"' });
    return { index, name: l.name, output: l.output, channels: l.channels, layout, ...(l.timestep !== undefined ? { timestep: l.timestep } : {}) };
  });
  const onnxPath = v.onnx ? resolve(pluginDir, v.onnx) : join(modelsDir(models), m.id, `${name}.onnx`);
  const baseCheckpoint = checkpointOf(m, v);
  return {
    pluginId: m.id,
    pluginVersion: m.version,
    family: m.family,
    name,
    size: v.size,
    params: v.params,
    trainingData: v.trainingData,
    arch: v.arch ?? {},
    checkpoint: v.checkpoint,
    ...(baseCheckpoint ? { baseCheckpoint } : {}),
    finetune: v.finetune ? { ...FINETUNE_DEFAULTS, ...v.finetune } : undefined,
    bundled: Boolean(v.bundled),
    ...(v.onnxOnly ? { onnxOnly: v.onnxOnly } : {}),
    seed: v.seed,
    resources: { ...m.resources, ...v.resources },
    onnxPath,
    manifestPath: join(resolve(pluginDir), 'plugin.json'),
    preprocess: pre as ResolvedVariant['preprocess'],
    selectionAxis: v.selectionAxis ?? source?.selectionAxis ?? m.selectionAxis ?? 'layers',
    extractor: resolveExtractor(m.extractor, source?.extractor, v.extractor),
    layers,
  };
}

/** The checkpoint a variant's weights start from: its own, else (fine-tuned) its source's, followed through `finetune.from`. */
function checkpointOf(m: PluginManifest, v: VariantSpec): VariantSpec['checkpoint'] {
  const seen = new Set<string>();
  for (let at: VariantSpec | undefined = v; at && !seen.has(at.name); at = m.variants.find((x) => x.name === at?.finetune?.from)) {
    if (at.checkpoint) return at.checkpoint;
    seen.add(at.name);
    if (!at.finetune) return undefined;
  }
  return undefined;
}

/**
 * Every variant of a checked manifest, resolved: what `zoo plugins show --resolved --json` prints
 * and what the Python exporter reads (plugins/_lib/brainzoo_export/manifest.py).
 */
export function resolvePlugin(m: PluginManifest, file: string, models?: string): ResolvedPlugin {
  const dir = resolve(file, '..');
  return {
    format: RESOLVED_PLUGIN_FORMAT,
    file: resolve(file),
    dir,
    id: m.id,
    version: m.version,
    family: m.family,
    selectionAxis: m.selectionAxis ?? 'layers',
    export: { script: resolve(dir, m.export.script), opset: m.export.opset, ...(m.export.python ? { python: m.export.python } : {}) },
    tiny: tinyVariantName(m) ?? null,
    defaultVariant: m.defaultVariant ?? m.variants[0].name,
    finetuneDefaults: { ...FINETUNE_DEFAULTS },
    variants: m.variants.map((v) => resolveVariant(m, dir, v.name, models)),
    archAt: Object.fromEntries(m.variants.map((v, i) => [v.name, `/variants/${i}/arch`])),
  };
}
