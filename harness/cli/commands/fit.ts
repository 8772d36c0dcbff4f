/** zoo fit --plugin P [--variant V] [--dataset DIR] --subject S [--out OUT] [hyperparameters] */
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { cacheDir } from '../../core/paths.js';
import { ensureWritableDir } from '../../core/fsutil.js';
import { parseDevice } from '../../features/session.js';
import { FitInterrupted, describeExcluded, fitSubject, type FitResult } from '../../fit/train.js';
import { DEFAULT_CONFIG, type FactorTopyConfig } from '../../model/config.js';
import { DEFAULT_SPLIT_SEED } from '../../data/split.js';
import { resolveDataset, resolveSubjects } from '../dataset-args.js';
import { EXIT_INTERRUPTED, commandLine, type CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry, parseGridResize } from '../options.js';
import { resolve } from 'node:path';

/** Hyperparameter flags: one per FactorTopyConfig field, defaults the authors'. */
const HYPER: [keyof FactorTopyConfig, string, string][] = [
  ['lr', '--lr <x>', 'AdamW learning rate'],
  ['weightDecay', '--weight-decay <x>', 'AdamW weight decay'],
  ['batchSize', '--batch-size <n>', 'images per step'],
  ['clipNorm', '--clip-norm <x>', 'gradient-norm clip'],
  ['channels', '--channels <n>', 'aligned channel width D'],
  ['hidden', '--hidden <n>', 'selector MLP width'],
  ['frequencies', '--frequencies <n>', 'sinusoidal frequencies per axis'],
  ['beta', '--beta <x>', 'smooth-L1 beta'],
  ['regWeight', '--reg-weight <x>', 'entropy + scale regulariser weight'],
  ['regDecaySteps', '--reg-decay-steps <n>', 'steps over which the regulariser decays to 0'],
  ['regDecayEpochs', '--reg-decay-epochs <n>', '… or epochs, whichever is first (0 = steps only)'],
  ['patience', '--patience <n>', 'epochs without a better validation R² before stopping'],
  ['minDelta', '--min-delta <x>', 'smallest validation R² gain that counts as better (0 = any)'],
  ['maxEpochs', '--max-epochs <n>', 'epoch limit'],
  ['maxSteps', '--max-steps <n>', 'step limit (0 = none)'],
  ['voxelChunk', '--voxel-chunk <n>', 'voxels per graph run; bounds memory on large subjects (0 = all at once)'],
];

export function addHyperparameterOptions(cmd: Command): Command {
  for (const [key, flag, help] of HYPER) cmd.option(flag, `${help} (default ${DEFAULT_CONFIG[key]})`);
  return cmd;
}

/** Fields that are real numbers (the rest are counts). */
const REAL: readonly (keyof FactorTopyConfig)[] = ['lr', 'weightDecay', 'clipNorm', 'beta', 'regWeight', 'minDelta'];
/**
 * Fields where 0 means nothing sensible (no training, an empty model, division by zero), with
 * why. --max-steps 0 (no step limit), --reg-decay-steps 0 (no regulariser), --voxel-chunk 0 (all
 * voxels at once), --weight-decay 0, --reg-weight 0 and --beta 0 (plain L1) are valid.
 */
const POSITIVE: Partial<Record<keyof FactorTopyConfig, string>> = {
  maxEpochs: 'with 0 epochs nothing is trained',
  patience: 'with patience 0 training stops before the first epoch',
  batchSize: 'a step needs at least one image',
  channels: 'the aligned features need at least one channel',
  hidden: 'the selector MLPs need at least one unit',
  frequencies: 'the coordinate encoding needs at least one frequency',
  lr: 'with learning rate 0 nothing is trained',
  clipNorm: 'clipping the gradient norm to 0 stops every update',
};

/**
 * Upper bounds, each far above the authors' value (D 128, hidden 128, 32 frequencies, batch 8,
 * patience 5, 200 epochs): a typo such as --channels 100000000 is refused at once instead of
 * failing deep in an allocation. What a fit of allowed sizes needs in memory is estimated
 * against the machine before training (fitMemoryEstimate).
 */
export const HYPER_MAX: Partial<Record<keyof FactorTopyConfig, number>> = {
  channels: 4096,
  hidden: 4096,
  frequencies: 256,
  batchSize: 1024,
  patience: 10_000,
  maxEpochs: 100_000,
  voxelChunk: 1_000_000,
};

export function hyperparameters(opts: Record<string, unknown>): Partial<FactorTopyConfig> {
  const out: Partial<FactorTopyConfig> = {};
  for (const [key, flag] of HYPER) {
    const raw = opts[key];
    if (raw === undefined) continue;
    const name = flag.split(' ')[0];
    const n = Number(raw);
    const integer = Number.isInteger(DEFAULT_CONFIG[key]) && !REAL.includes(key);
    const positive = POSITIVE[key];
    const kind = `${positive ? 'positive' : 'non-negative'} ${integer ? 'integer' : 'number'}`;
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
      throw new ZooError('E_ARGS', `${name} must be a ${kind}`, { found: raw, fix: `e.g. ${name} ${DEFAULT_CONFIG[key]} (the default)` });
    }
    if (positive && n === 0) {
      throw new ZooError('E_ARGS', `${name} must be a ${kind}: ${positive}`, { found: raw, fix: `e.g. ${name} ${DEFAULT_CONFIG[key]} (the default), or leave the flag out` });
    }
    const max = HYPER_MAX[key];
    if (max !== undefined && n > max) {
      throw new ZooError('E_ARGS', `${name} ${raw} is above the limit of ${max.toLocaleString('en-US')}`, { found: raw, fix: `e.g. ${name} ${DEFAULT_CONFIG[key]} (the default); at most ${name} ${max}` });
    }
    (out as Record<string, number>)[key] = n;
  }
  return out;
}

interface FitOpts extends Record<string, unknown> {
  gridResize?: string;
  plugin: string;
  variant?: string;
  dataset?: string;
  subject?: string;
  out: string;
  device?: string;
  seed: string;
  splitSeed: string;
  cache?: string;
  models?: string;
  fsaverage?: string;
  plugins?: string[];
  force?: boolean;
  quiet?: boolean;
}

/** `--split-seed`: an integer (fit and bench). */
export function parseSplitSeed(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n)) throw new ZooError('E_ARGS', '--split-seed must be an integer', { found: raw, fix: `--split-seed ${DEFAULT_SPLIT_SEED} (the default)` });
  return n;
}

export function registerFit(program: Command, ctx: CommandContext): void {
  const cmd = addRuntimeOptions(program.command('fit'))
    .description('train the FactorTopy encoder for one backbone on one subject; writes OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>/')
    .requiredOption('--plugin <id>', 'plugin id')
    .option('--variant <name>', 'variant tag')
    .option('--dataset <dir>', 'dataset folder (default: the bundled synthetic dataset)')
    .option('--subject <list>', 'subject(s), comma-separated (default: all)')
    .option('--out <dir>', 'output folder', 'out')
    .option('--seed <n>', 'initialisation seed (parameters, batch order)', '0')
    .option('--split-seed <n>', `seed of the train/val/test split, apart from --seed so that fits of different --seed share their test images; changing it is deliberate (default ${DEFAULT_SPLIT_SEED})`, String(DEFAULT_SPLIT_SEED))
    .option('--fsaverage <dir>', 'fsaverage surfaces, when the dataset has no voxel_coords.npy')
    .option('--force', 're-fit even if a finished run with the same inputs exists')
  addHyperparameterOptions(cmd)
    .addHelpText('after', '\nExamples:\n  zoo fit --plugin clip --variant tiny --subject subj01\n  zoo fit --plugin dinov2 --variant vit-b-14.lvd142m --dataset ~/algonauts2023 --subject subj01 --device cuda --out results')
    .action(async (opts: FitOpts) => {
      const registry = commandRegistry(ctx, opts);
      const variant = registry.variant(opts.plugin, opts.variant);
      const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
      const seed = Number(opts.seed);
      if (!Number.isSafeInteger(seed)) throw new ZooError('E_ARGS', '--seed must be an integer', { found: opts.seed, fix: '--seed 0' });
      const splitSeed = parseSplitSeed(opts.splitSeed);
      const config = hyperparameters(opts);
      const outDir = resolve(ctx.io.cwd, opts.out);
      const cacheRoot = cacheDir(opts.cache);
      ensureWritableDir(outDir, '--out');
      ensureWritableDir(cacheRoot, '--cache');
      const subjects = resolveSubjects(dataset, opts.subject);
      // The first Ctrl-C stops at the end of the current step (or extraction batch), with the
      // training state checkpointed; a second one stops at once (the last epoch's checkpoint stays).
      const signal = ctx.io.interruptible?.();
      for (const [i, subject] of subjects.entries()) {
        let result: FitResult;
        try {
          result = await fitSubject({
            variant, datasetDir: dataset, subject, outDir, cacheRoot, signal,
            device: parseDevice(opts.device), seed, splitSeed, config, gridResize: parseGridResize(opts.gridResize), fsaverageDir: opts.fsaverage, quiet: opts.quiet, force: opts.force, log: (l) => ctx.io.err(l),
          });
        } catch (err) {
          if (!(err instanceof FitInterrupted)) throw err;
          const where = err.at
            ? `${subject} stopped in epoch ${err.at.epoch} after step ${err.at.step}; the training state is kept in ${err.at.checkpoint}`
            : `${subject} stopped during feature extraction; the features computed so far are kept in the cache`;
          ctx.io.err(`fit: interrupted: ${where}, and nothing half-written is left. Run the same command again to resume:\n  ${commandLine(ctx.argv)}`);
          ctx.exitCode = EXIT_INTERRUPTED;
          return;
        }
        const m = result.metrics;
        ctx.io.out(`${m.plugin}/${m.variant} ${m.subject}: test R² ${m.testR2.toFixed(4)} (best val ${m.bestValR2.toFixed(4)} at epoch ${m.bestEpoch}, ${m.steps} steps, ${m.secondsPerStep.toFixed(3)} s/step${result.reused ? ', reused' : ''}${m.resumedAt && !result.reused ? ', resumed' : ''}) → ${result.runDir}`);
        // Voxels without a test R² are never silently averaged over: say how many, why and which.
        if (m.excludedVoxels?.length) {
          ctx.io.out(`  ${m.voxels - m.usedVoxels} of ${m.voxels} voxels left out (no test R²); ${m.usedVoxels} fitted and scored:`);
          for (const e of m.excludedVoxels) ctx.io.out(`    ${describeExcluded(e, m.images?.test)}`);
        }
        if (!m.convergence?.converged) ctx.io.out(`  NOT CONVERGED (not a finished result): ${m.convergence?.reasons.join('; ') ?? 'the run predates convergence checks; re-fit with --force'}`);
        if (signal?.aborted && i + 1 < subjects.length) {
          ctx.io.err(`fit: interrupted after ${subject} (its run is finished); ${subjects.slice(i + 1).join(', ')} not fitted. Run the same command again to fit the rest (finished runs are reused):\n  ${commandLine(ctx.argv)}`);
          ctx.exitCode = EXIT_INTERRUPTED;
          return;
        }
      }
    });
}
