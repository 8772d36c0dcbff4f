/**
 * `zoo plugins new NAME [--package] [--layout vit|cnn] [--dir D]`: a plugin folder that passes
 * `zoo plugins test` once its tiny variant is exported. It holds
 *   plugin.json   one real variant and the bundled tiny variant, its fixture inside the folder
 *                 (fixtures/tiny.onnx), for a ViT (NLC tokens, CLS first) or a CNN (NCHW maps
 *                 of four stages of different sizes and widths);
 *   export.py     the documented exporter API (PluginSpec + brainzoo_export.cli.main), copied
 *                 from plugins/_templates/<layout>/export.py;
 *   README.md     a stub: what to edit, how to export, test and publish;
 *   package.json  with --package: an npm package (keyword brainzoo-plugin, `npm test` running
 *                 `zoo plugins test .`, brainzoo as a peer dependency).
 * The folder goes to D/NAME, or ./NAME: never into an installed package (node_modules).
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ZooError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { LayerSpec, PluginManifest, VariantSpec } from './manifest.js';

export type ScaffoldLayout = 'vit' | 'cnn';
export const SCAFFOLD_LAYOUTS: readonly ScaffoldLayout[] = ['vit', 'cnn'];

export interface ScaffoldOptions {
  family?: string;
  layout?: ScaffoldLayout;
  /** Also write package.json (an npm package with the keyword brainzoo-plugin). */
  package?: boolean;
  /** brainzoo's version, for the peer dependency. */
  brainzooVersion?: string;
}

/** Where the tiny variant's ONNX goes, relative to the plugin folder. */
export const TINY_FIXTURE = 'fixtures/tiny.onnx';

const IMAGENET = { mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number] };

/** What the tiny variant of either template declares besides its arch and layers. */
function tinyVariant(): Omit<VariantSpec, 'arch'> {
  return {
    name: 'tiny',
    size: 'tiny',
    description: 'Random-initialised miniature of the same architecture, for tests and default runs.',
    bundled: true,
    seed: 0,
    onnx: TINY_FIXTURE,
    preprocess: { resolution: 64 },
  };
}

function vitVariants(): VariantSpec[] {
  return [
    {
      name: 'vit-b-16',
      size: 'B',
      params: 86,
      trainingData: 'TODO',
      arch: { img_size: 224, patch_size: 16, embed_dim: 768, depth: 12, num_heads: 12, mlp_ratio: 4 },
      checkpoint: { url: 'TODO: where users download the official weights', key: 'model' },
      layers: { count: 12, name: 'blocks.{i}', output: 'block_{i}', channels: 768 },
    },
    {
      ...tinyVariant(),
      arch: { img_size: 64, patch_size: 8, embed_dim: 48, depth: 6, num_heads: 2, mlp_ratio: 2 },
      tokenLayout: { format: 'NLC', cls: true, registers: 0, grid: [8, 8] },
      layers: { count: 6, name: 'blocks.{i}', output: 'block_{i}', channels: 48 },
    },
  ];
}

/** One NCHW layer per stage: the stem divides the side by 4, every later stage by 2 more. */
function cnnStages(resolution: number, widths: readonly number[]): LayerSpec[] {
  return widths.map((channels, i) => {
    const side = resolution / 2 ** (i + 2);
    return { name: `layer${i + 1}`, output: `stage_${i}`, channels, tokenLayout: { format: 'NCHW', grid: [side, side] } };
  });
}

function cnnVariants(): VariantSpec[] {
  const real = [64, 128, 256, 512];
  const tiny = [16, 32, 48, 64];
  return [
    {
      name: 'resnet-18',
      size: 'S',
      params: 11.2,
      trainingData: 'TODO',
      arch: { widths: real, depths: [2, 2, 2, 2] },
      checkpoint: { url: 'TODO: where users download the official weights (e.g. torchvision\'s resnet18 state dict)' },
      layers: cnnStages(224, real),
    },
    {
      ...tinyVariant(),
      arch: { widths: tiny, depths: [1, 1, 1, 1] },
      layers: cnnStages(64, tiny),
    },
  ];
}

export function scaffoldManifest(name: string, opts: ScaffoldOptions, schemaRef: string): PluginManifest {
  const layout = opts.layout ?? 'vit';
  const vit = layout === 'vit';
  return {
    $schema: schemaRef,
    id: name,
    family: opts.family ?? name,
    version: '0.1.0',
    description: 'TODO: one line on what this backbone is and how it was trained.',
    paper: { title: 'TODO: paper title', authors: 'TODO', year: new Date().getFullYear(), url: 'TODO' },
    export: { script: 'export.py', opset: 17 },
    selectionAxis: 'layers',
    preprocess: { resolution: 224, ...IMAGENET, resize: 'center-crop', interpolation: vit ? 'bicubic' : 'bilinear' },
    ...(vit ? { tokenLayout: { format: 'NLC' as const, cls: true, registers: 0, grid: [14, 14] as [number, number] } } : {}),
    defaultVariant: vit ? 'vit-b-16' : 'resnet-18',
    variants: vit ? vitVariants() : cnnVariants(),
  };
}

function packageJson(name: string, opts: ScaffoldOptions): Record<string, unknown> {
  return {
    name: `brainzoo-plugin-${name}`,
    version: '0.1.0',
    description: `brainzoo backbone plugin: ${name}`,
    keywords: ['brainzoo-plugin'],
    license: 'UNLICENSED',
    files: ['plugin.json', 'export.py', TINY_FIXTURE, 'README.md'],
    scripts: {
      test: 'zoo plugins test .',
      'export:tiny': `zoo export --plugins . --plugin ${name} --variant tiny --random-init`,
    },
    peerDependencies: { brainzoo: `>=${opts.brainzooVersion ?? '0.1.0'}` },
  };
}

function readme(name: string, opts: ScaffoldOptions): string {
  const layout = opts.layout ?? 'vit';
  const shape = layout === 'vit' ? 'every block\'s tokens, [batch, 1 + rows·cols, C] (NLC, CLS token first)' : 'every stage\'s feature map, [batch, C_i, H_i, W_i] (NCHW; the stages differ in size and width)';
  const zoo = opts.package ? 'npx zoo' : 'zoo';
  const plugins = opts.package ? '.' : `path/to/${name}`;
  const lines = [
    `# ${name}`,
    '',
    'TODO: one paragraph on the backbone (paper, training data, where the official weights are).',
    '',
    `A brainzoo backbone plugin. Its ONNX export outputs ${shape}.`,
    '',
    '| file | what it is |',
    '|---|---|',
    '| `plugin.json` | the manifest: preprocessing, variants (`arch` = the keyword arguments of `build_model`), layers and their token layout |',
    '| `export.py` | builds the model in plain PyTorch with the official parameter names; `PLUGIN = PluginSpec(...)` |',
    `| \`${TINY_FIXTURE}\` | the tiny random-init variant, made by the export below; commit it |`,
    ...(opts.package ? ['| `package.json` | an npm package with the keyword `brainzoo-plugin`, so that brainzoo finds it in `node_modules` |'] : []),
    '',
    '## Develop',
    '',
    '```bash',
    ...(opts.package ? ['npm install                      # brainzoo is a peer dependency'] : []),
    `${zoo} export --plugins ${plugins} --plugin ${name} --variant tiny --random-init   # writes ${TINY_FIXTURE}`,
    `${zoo} plugins test ${plugins}${opts.package ? '                                    # = npm test' : ''}`,
    '```',
    '',
    '`zoo export` runs export.py with brainzoo\'s Python library (`brainzoo_export`) on `PYTHONPATH`;',
    'Python needs torch, torchvision, onnx and numpy (`$BRAINZOO_PYTHON` picks the interpreter).',
    'Edit the architecture in export.py and the variants in plugin.json together, re-export the',
    'tiny variant, and run the test again: it checks the manifest, the ONNX outputs against the',
    'declared layouts, feature extraction, that the export is reproducible byte for byte, and a',
    'one-epoch fit on a small planted brain.',
    '',
    'Real weights: download the official checkpoint (each variant\'s `checkpoint.url`), then',
    '',
    '```bash',
    `${zoo} export --plugins ${plugins} --plugin ${name} --variant ${layout === 'vit' ? 'vit-b-16' : 'resnet-18'} --checkpoint FILE`,
    '```',
    '',
    '## Use',
    '',
    opts.package
      ? `\`npm install brainzoo-plugin-${name}\` next to brainzoo: \`zoo plugins list\` shows \`${name}\`, and \`zoo bench ${name}\` runs it.`
      : `\`zoo bench ${name} --plugins path/to/${name}\` (or \`$BRAINZOO_PLUGINS\`).`,
    '',
  ];
  return lines.join('\n');
}

/** True when `dir` is inside a node_modules folder (an installed package: npm would overwrite it). */
function insideNodeModules(dir: string): boolean {
  return dir.split(sep).includes('node_modules');
}

export function scaffoldPlugin(parent: string, name: string, opts: ScaffoldOptions = {}): string {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new ZooError('E_ARGS', `plugin name "${name}" is not valid`, { fix: 'use lower-case letters, digits and dashes, starting with a letter (e.g. my-vit)' });
  }
  const layout = opts.layout ?? 'vit';
  if (!SCAFFOLD_LAYOUTS.includes(layout)) throw new ZooError('E_ARGS', `unknown layout "${String(layout)}"`, { fix: `use --layout ${SCAFFOLD_LAYOUTS.join(' | ')}` });
  const dir = join(parent, name);
  if (insideNodeModules(dir)) {
    throw new ZooError('E_ARGS', `${dir} is inside node_modules: npm replaces installed packages, so the plugin would be lost`, { file: dir, fix: 'create it in a folder of your own (cd there, or pass --dir)' });
  }
  if (existsSync(dir)) throw new ZooError('E_ARGS', `${dir} already exists`, { file: dir, fix: 'choose another name or remove the folder' });
  mkdirSync(join(dir, 'fixtures'), { recursive: true });
  const schemaRef = opts.package ? 'node_modules/brainzoo/schemas/plugin.schema.json' : relative(dir, join(packageRoot(), 'schemas', 'plugin.schema.json'));
  writeFileSync(join(dir, 'plugin.json'), `${JSON.stringify(scaffoldManifest(name, opts, schemaRef), null, 2)}\n`);
  copyFileSync(join(packageRoot(), 'plugins', '_templates', layout, 'export.py'), join(dir, 'export.py'));
  writeFileSync(join(dir, 'README.md'), readme(name, opts));
  if (opts.package) {
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(packageJson(name, opts), null, 2)}\n`);
    writeFileSync(join(dir, '.gitignore'), 'node_modules/\n');
  }
  return dir;
}
