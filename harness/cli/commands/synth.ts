/** zoo synth --out DIR [--plugin P] [--variant V] [--subjects K] [--voxels N] [--images M] [--snr R] [--flat] [--seed S] */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { parseDevice } from '../../features/session.js';
import { synthesizeDataset } from '../../synth/generate.js';
import type { CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry, parseGridResize } from '../options.js';

interface SynthOpts {
  out: string;
  gridResize?: string;
  plugin: string;
  variant: string;
  subjects: string;
  voxels: string;
  images: string;
  snr: string;
  flat?: boolean;
  channelGroups?: boolean;
  distinctImages?: boolean;
  seed: string;
  device?: string;
  cache?: string;
  plugins?: string[];
  quiet?: boolean;
}

function num(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ZooError('E_ARGS', `${flag} must be a number`, { found: value, fix: `e.g. ${flag} 2` });
  return n;
}

export function registerSynth(program: Command, ctx: CommandContext): void {
  addRuntimeOptions(program.command('synth'))
    .description('write a planted synthetic brain in the Algonauts 2023 layout, with its ground truth under subjXX/ground_truth/')
    .requiredOption('--out <dir>', 'dataset folder to write')
    .option('--plugin <id>', 'backbone whose features generate the responses', 'imagenet-vit')
    .option('--variant <name>', 'its variant', 'tiny')
    .option('--subjects <k>', 'number of subjects', '2')
    .option('--voxels <n>', 'voxels per subject (lh + rh)', '1000')
    .option('--images <m>', 'images per subject', '300')
    .option('--snr <r>', 'signal-to-noise variance ratio (noise ceiling R² = snr/(1+snr))', '2')
    .option('--flat', 'layers do not follow the hierarchy (slope ≈ 0)')
    .option('--channel-groups', 'the voxels of each ROI share a readout direction (planted channel clusters, for zoo channels)')
    .option('--distinct-images', 'each subject sees its own images (default: one shared image set)')
    .option('--seed <s>', 'random seed', '0')
    .addHelpText('after', '\nExamples:\n  zoo synth --out /tmp/brain\n  zoo synth --out /tmp/flat --flat --voxels 4000 --images 600 --plugin dinov2 --variant tiny')
    .action(async (opts: SynthOpts) => {
      const registry = commandRegistry(ctx, { plugins: opts.plugins });
      const variant = registry.variant(opts.plugin, opts.variant);
      const out = resolve(ctx.io.cwd, opts.out);
      const results = await synthesizeDataset({
        out,
        variant,
        subjects: num(opts.subjects, '--subjects'),
        voxels: num(opts.voxels, '--voxels'),
        images: num(opts.images, '--images'),
        snr: num(opts.snr, '--snr'),
        flat: Boolean(opts.flat),
        channelGroups: Boolean(opts.channelGroups),
        distinctImages: Boolean(opts.distinctImages),
        seed: num(opts.seed, '--seed'),
        cacheRoot: cacheDir(opts.cache),
        gridResize: parseGridResize(opts.gridResize),
        device: parseDevice(opts.device),
        quiet: opts.quiet,
        log: (l) => ctx.io.err(l),
      });
      for (const r of results) ctx.io.out(`${r.subject}: ${r.images} images × ${r.voxels} voxels, noise ceiling R² ${r.noiseCeiling.toFixed(3)} → ${r.dir}`);
      ctx.io.out(`wrote ${out} (generator ${variant.pluginId}/${variant.name}${opts.flat ? ', flat' : ''}, seed ${opts.seed})`);
    });
}
