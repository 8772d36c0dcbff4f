/** zoo extract --plugin P [--variant V] (--dataset DIR [--subjects ..] | --images DIR) */
import { existsSync, readdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { ensureWritableDir } from '../../core/fsutil.js';
import { MAX_GRID, extractFeatures, type ImageRef } from '../../features/extract.js';
import { clampToCores } from '../../orchestrate/resources.js';
import { parseDevice } from '../../features/session.js';
import { datasetImages, resolveDataset, resolveSubjects } from '../dataset-args.js';
import type { CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry, parseGridResize } from '../options.js';

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff']);

export function folderImages(dir: string): ImageRef[] {
  if (!existsSync(dir)) throw new ZooError('E_DATASET', `image folder ${dir} does not exist`, { file: dir, fix: 'check --images' });
  return readdirSync(dir)
    .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
    .sort()
    .map((f) => ({ id: basename(f, extname(f)), path: join(dir, f) }));
}

interface ExtractOpts {
  gridResize?: string;
  plugin: string;
  variant?: string;
  dataset?: string;
  subjects?: string;
  images?: string;
  device?: string;
  cache?: string;
  models?: string;
  grid: string;
  batchSize: string;
  threads?: string;
  plugins?: string[];
  quiet?: boolean;
}

export function registerExtract(program: Command, ctx: CommandContext): void {
  addRuntimeOptions(program.command('extract'))
    .description('run a backbone over a dataset\'s images and cache every layer\'s local (G×G) and global features as float16')
    .requiredOption('--plugin <id>', 'plugin id (zoo plugins list)')
    .option('--variant <name>', 'variant tag (default: the plugin\'s default)')
    .option('--dataset <dir>', 'dataset folder in the Algonauts 2023 layout (default: the bundled synthetic dataset)')
    .option('--subjects <list>', 'comma-separated subjects (default: all in the dataset)')
    .option('--images <dir>', 'a plain folder of images instead of a dataset')
    .option('--grid <G>', 'local grid side', '8')
    .option('--batch-size <n>', 'images per forward pass', '16')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)')
    .addHelpText('after', '\nExamples:\n  zoo extract --plugin clip --variant tiny\n  zoo extract --plugin dinov2 --variant vit-b-14.reg --dataset ~/algonauts2023 --subjects subj01 --device webgpu\n  zoo extract --plugin mae --variant tiny --images ./my-images')
    .action(async (opts: ExtractOpts) => {
      const registry = commandRegistry(ctx, opts);
      const variant = registry.variant(opts.plugin, opts.variant);
      const device = parseDevice(opts.device);
      const G = positiveInt(opts.grid, '--grid');
      if (G > MAX_GRID) throw new ZooError('E_ARGS', `--grid ${G} is above the limit of ${MAX_GRID}`, { found: opts.grid, fix: `use --grid 8 (the authors' value) or at most --grid ${MAX_GRID}: the cache grows with G² per layer` });
      const batchSize = positiveInt(opts.batchSize, '--batch-size');
      let threads = opts.threads ? positiveInt(opts.threads, '--threads') : undefined;
      if (threads !== undefined) {
        const clamped = clampToCores(threads, '--threads');
        if (clamped.note) ctx.io.err(`extract: ${clamped.note}`);
        threads = clamped.value;
      }
      const jobs: { label: string; images: ImageRef[] }[] = [];
      if (opts.images) jobs.push({ label: opts.images, images: folderImages(resolve(ctx.io.cwd, opts.images)) });
      else {
        const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
        for (const subject of resolveSubjects(dataset, opts.subjects)) jobs.push({ label: subject, images: datasetImages(dataset, subject) });
      }
      const cacheRoot = cacheDir(opts.cache);
      ensureWritableDir(cacheRoot, '--cache');
      for (const job of jobs) {
        const result = await extractFeatures({
          variant, images: job.images, cacheRoot, device, G, gridResize: parseGridResize(opts.gridResize), batchSize, threads, quiet: opts.quiet,
          log: (line) => ctx.io.err(line),
        });
        const how = result.reused ? 'reused' : `${result.computed} images in ${result.seconds.toFixed(1)} s`;
        ctx.io.out(`${variant.pluginId}/${variant.name} ${job.label}: ${job.images.length} images × ${variant.layers.length} layers (${how}) → ${result.dir}`);
        result.store.close();
      }
    });
}

export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ZooError('E_ARGS', `${flag} must be a positive integer`, { found: value, fix: `e.g. ${flag} 8` });
  return n;
}
