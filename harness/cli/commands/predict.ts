/** zoo predict --run RUN_DIR (--images DIR | --dataset DIR --subject S) --out FILE.npy */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { writeNpy } from '../../core/npy.js';
import { ensureWritableDir, ensureWritableFile } from '../../core/fsutil.js';
import { cacheDir } from '../../core/paths.js';
import { extractFeatures } from '../../features/extract.js';
import { openSession, ort, parseDevice } from '../../features/session.js';
import { encoderPath, readRunMetrics, readRunVoxels, refitFix, requireRunFolder, unverifiedNote } from '../../runs/store.js';
import { datasetImages, resolveDataset, resolveSubjects } from '../dataset-args.js';
import type { CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry, parseGridResize } from '../options.js';
import { folderImages } from './extract.js';

interface PredictOpts {
  gridResize?: string;
  run: string;
  images?: string;
  dataset?: string;
  subject?: string;
  out: string;
  device?: string;
  cache?: string;
  models?: string;
  plugins?: string[];
  quiet?: boolean;
}

export function registerPredict(program: Command, ctx: CommandContext): void {
  addRuntimeOptions(program.command('predict'))
    .description('predict voxel responses to images with a fitted encoder (a run folder of zoo fit)')
    .requiredOption('--run <dir>', 'run folder: OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>')
    .option('--images <dir>', 'a folder of images')
    .option('--dataset <dir>', 'or a dataset …')
    .option('--subject <s>', '… and subject whose training images to use')
    .requiredOption('--out <file>', 'predictions .npy [images, voxels] (voxels in the subject\'s order; NaN for voxels the run dropped)')
    .addHelpText('after', '\nExample:\n  zoo predict --run out/runs/clip/tiny/subj01/seed0.cpu --images ./stimuli --out pred.npy')
    .action(async (opts: PredictOpts) => {
      if (opts.images !== undefined && (opts.dataset !== undefined || opts.subject !== undefined)) {
        throw new ZooError('E_ARGS', `--images and --${opts.dataset !== undefined ? 'dataset' : 'subject'} both choose the images to predict`, {
          fix: 'pass either --images DIR (a plain folder of images) or --dataset DIR [--subject S] (a subject\'s training images)',
        });
      }
      const runDir = resolve(ctx.io.cwd, opts.run);
      requireRunFolder(runDir);
      // Verified: an encoder.onnx or voxels.npy that differs from the committed one is E_RUN_DAMAGED.
      const metrics = readRunMetrics(runDir);
      if (metrics.files === undefined) ctx.io.err(`predict: ${unverifiedNote([runDir])}`);
      const file = resolve(ctx.io.cwd, opts.out);
      ensureWritableFile(file, '--out');
      const cacheRoot = cacheDir(opts.cache);
      ensureWritableDir(cacheRoot, '--cache');
      const variant = commandRegistry(ctx, opts).variant(metrics.plugin, metrics.variant);
      let images;
      if (opts.images) images = folderImages(resolve(ctx.io.cwd, opts.images));
      else {
        const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
        const [subject] = resolveSubjects(dataset, opts.subject ?? metrics.subject);
        images = datasetImages(dataset, subject);
      }
      const device = parseDevice(opts.device);
      // The encoder was fit on features resized the run's way; another resize would feed it other features.
      const gridResize = metrics.gridResize ?? 'bilinear';
      if (opts.gridResize !== undefined && parseGridResize(opts.gridResize) !== gridResize) {
        throw new ZooError('E_ARGS', `--grid-resize ${opts.gridResize} differs from the run's (${gridResize})`, { file: join(runDir, 'metrics.json'), fix: 'leave out --grid-resize: predict uses the run\'s' });
      }
      const { store } = await extractFeatures({ variant, images, cacheRoot, device, gridResize, quiet: opts.quiet, log: (l) => ctx.io.err(l) });
      const voxels = Array.from(readRunVoxels(runDir, metrics));
      const session = await openSession(encoderPath(runDir), device);
      const B = metrics.config.batchSize;
      if (!Number.isInteger(B) || B <= 0) throw new ZooError('E_RUN_DAMAGED', 'run metrics lack the batch size the encoder was built with', { file: join(runDir, 'metrics.json'), found: B, fix: refitFix(runDir) });
      const N = metrics.voxels;
      const out = new Float32Array(images.length * N).fill(NaN);
      try {
        for (let start = 0; start < images.length; start += B) {
          const rows = Array.from({ length: B }, (_, i) => Math.min(start + i, images.length - 1));
          const feeds: Record<string, ort.Tensor> = {};
          store.meta.layers.forEach((layer, l) => {
            feeds[`local_${l}`] = new ort.Tensor('float32', store.gatherLocal(l, rows), [B, store.meta.G, store.meta.G, layer.channels]);
            feeds[`global_${l}`] = new ort.Tensor('float32', store.gatherGlobal(l, rows), [B, layer.channels]);
          });
          const pred = (await session.run(feeds)).prediction.data as Float32Array; // [B, N_used]
          for (let i = 0; i < Math.min(B, images.length - start); i++) {
            voxels.forEach((vox, j) => (out[(start + i) * N + vox] = pred[i * voxels.length + j]));
          }
        }
      } finally {
        await session.release();
        store.close();
      }
      writeNpy(file, out, [images.length, N]);
      ctx.io.out(`predicted ${images.length} images × ${N} voxels with ${metrics.plugin}/${metrics.variant} ${metrics.subject} → ${file}`);
    });
}
