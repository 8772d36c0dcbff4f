/**
 * zoo channels --run RUN_DIR [--clusters K] [--method ncut|kmeans] [--rois A,B] [--images N]
 *               [--dataset DIR] [--out DIR] [--seed S] [--json]
 *
 * The paper's fourth step (Fig. 1 ④, Fig. 8 and 9) on a fitted run: clusters the voxels by their
 * channel-selection weights w_i and draws the clusters on the brain; reports per ROI the channel
 * diversity (participation ratio of the w_i) next to the spatial diversity of the space selector;
 * and draws, per ROI, the top-3 principal components of its w_i applied to the aligned features
 * of a few test images. Writes OUT/channels.json, clusters.npy, clusters.png, pca.png, pca_rgb.npy.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ZooError } from '../../core/errors.js';
import { ensureWritableDir, writeJsonAtomic } from '../../core/fsutil.js';
import { readNpy, writeNpy } from '../../core/npy.js';
import { cacheDir } from '../../core/paths.js';
import { openSubject } from '../../data/algonauts.js';
import { MERGED_ROI_NAMES } from '../../data/rois.js';
import { extractFeatures } from '../../features/extract.js';
import { parseDevice } from '../../features/session.js';
import { participationRatio, pcaImages, positionSpread, principalComponents } from '../../channels/analysis.js';
import { adjustedRandIndex, clusterChannels, type ClusterMethod } from '../../channels/cluster.js';
import { readEncoderWeights } from '../../channels/encoder-weights.js';
import { checkRunsMatchSubject, readRunArray, readRunMetrics, requireRunFolder, unverifiedNote } from '../../runs/store.js';
import { datasetImages, resolveDataset } from '../dataset-args.js';
import type { CommandContext } from '../io.js';
import { addRuntimeOptions, commandRegistry } from '../options.js';

interface ChannelsOpts {
  run: string;
  clusters: string;
  method: string;
  rois?: string;
  images: string;
  dataset?: string;
  out?: string;
  seed: string;
  json?: boolean;
  format?: string;
  device?: string;
  cache?: string;
  models?: string;
  plugins?: string[];
  quiet?: boolean;
}

/** The ROIs of Fig. 9 when --rois is not given (those the dataset has). */
const PCA_DEFAULT_ROIS = ['V1', 'V4', 'EBA', 'FFA', 'PPA'];

function intFlag(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ZooError('E_ARGS', `${flag} must be an integer ≥ ${min}`, { found: value, fix: `e.g. ${flag} ${Math.max(min, 4)}` });
  return n;
}

export function registerChannels(program: Command, ctx: CommandContext): void {
  addRuntimeOptions(program.command('channels'))
    .description('cluster the voxels of a fitted run by their channel-selection weights (Fig. 8), channel vs spatial diversity per ROI, and the per-ROI principal-component images (Fig. 9)')
    .requiredOption('--run <dir>', 'run folder: OUT/runs/<plugin>/<variant>/<subject>/seed<N>.<device>')
    .option('--clusters <k>', 'number of clusters', '8')
    .option('--method <m>', 'ncut (normalised cut, spectral; Nyström above 2,000 voxels) | kmeans', 'ncut')
    .option('--rois <list>', `ROIs for the table and the PCA images, comma-separated (default: the dataset's merged ROIs; PCA images: ${PCA_DEFAULT_ROIS.join(', ')})`)
    .option('--images <n>', 'test images in the PCA grid (0: none)', '4')
    .option('--dataset <dir>', 'the dataset the run was fitted on (default: the bundled synthetic dataset)')
    .option('--out <dir>', 'output folder (default: RUN/channels)')
    .option('--seed <s>', 'seed of the clustering', '0')
    .option('--format <f>', 'pictures as png or svg (text kept as <text>)', 'png')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExample:\n  zoo channels --run out/runs/imagenet-vit/tiny/subj01/seed0.cpu --clusters 6')
    .action(async (opts: ChannelsOpts) => {
      const runDir = resolve(ctx.io.cwd, opts.run);
      requireRunFolder(runDir);
      const k = intFlag(opts.clusters, '--clusters', 2);
      const nImages = intFlag(opts.images, '--images', 0);
      const seed = intFlag(opts.seed, '--seed', 0);
      if (opts.method !== 'ncut' && opts.method !== 'kmeans') throw new ZooError('E_ARGS', `unknown --method "${opts.method}"`, { fix: 'use --method ncut | kmeans' });
      const method = opts.method as ClusterMethod;
      // Canvas loads with the command that needs it.
      const pics = await import('../../report/pictures/channels.js');
      const format = pics.pictureFormat(opts.format);
      const outDir = resolve(ctx.io.cwd, opts.out ?? join(runDir, 'channels'));
      ensureWritableDir(outDir, '--out');
      const metrics = readRunMetrics(runDir);
      if (metrics.files === undefined) ctx.io.err(`channels: ${unverifiedNote([runDir])}`);
      const dataset = resolveDataset(opts.dataset, ctx.io.cwd);
      const subject = openSubject(dataset, metrics.subject);
      let report: Record<string, unknown>;
      try {
        checkRunsMatchSubject(subject, [{ metrics, dir: runDir }], 'analyse channels of');
        const w = readEncoderWeights(runDir, metrics);
        const n = w.voxels.length;
        const D = w.D;
        const L = metrics.layers.length;

        // Fig. 8: clusters of the channel weights, painted per subject voxel.
        const clustering = clusterChannels(w.readoutW, n, D, { k, seed, method });
        const perVoxel = new Int32Array(subject.voxelCount).fill(-1);
        w.voxels.forEach((v, i) => (perVoxel[v] = clustering.labels[i]));
        writeNpy(join(outDir, 'clusters.npy'), perVoxel, [subject.voxelCount]);

        // Per ROI: channel and spatial diversity, and how the clusters split it.
        const rowOf = new Map<number, number>();
        w.voxels.forEach((v, i) => rowOf.set(v, i));
        const space = readRunArray(runDir, 'space.npy', [metrics.voxels, 2]);
        const wanted = opts.rois ? opts.rois.split(',').map((s) => s.trim()).filter(Boolean) : MERGED_ROI_NAMES.filter((r) => subject.rois.has(r) && subject.rois.indices(r).length > 0);
        // Each ROI's encoder rows, looked up once.
        const roiRows = new Map<string, number[]>();
        const rows = (roi: string): number[] => {
          let r = roiRows.get(roi);
          if (!r) roiRows.set(roi, (r = Array.from(subject.rois.indices(roi)).map((v) => rowOf.get(v)).filter((x): x is number => x !== undefined)));
          return r;
        };
        const perRoi = wanted.map((roi) => {
          const r = rows(roi);
          const voxelsOf = r.map((i) => w.voxels[i]);
          const counts = new Array<number>(k).fill(0);
          for (const i of r) counts[clustering.labels[i]]++;
          return {
            roi,
            voxels: r.length,
            channelParticipationRatio: participationRatio(w.readoutW, r, D),
            positionSpread: positionSpread(space, voxelsOf),
            dominantCluster: r.length ? counts.indexOf(Math.max(...counts)) + 1 : null,
            dominantShare: r.length ? Math.max(...counts) / r.length : null,
          };
        });
        // Agreement of the clusters with the ROI map (voxels in exactly one of the listed ROIs).
        const roiLabel = new Int32Array(n).fill(-1);
        wanted.forEach((roi, j) => {
          for (const i of rows(roi)) roiLabel[i] = roiLabel[i] === -1 ? j : -2;
        });
        const inOne = Array.from(roiLabel.keys()).filter((i) => roiLabel[i] >= 0);
        const ari = inOne.length > 1 ? adjustedRandIndex(inOne.map((i) => clustering.labels[i]), inOne.map((i) => roiLabel[i])) : NaN;

        const flat = subject.flatmap();
        const label = `${metrics.plugin}/${metrics.variant} ${metrics.subject}`;
        const files = [pics.drawClusterMap({ title: `${label}: channel clusters (Fig. 8)`, subtitle: `${k} clusters of the channel-selection weights w_i (${clustering.method})`, flatmap: flat.xy, lhCount: subject.voxelCounts.lh, clusters: perVoxel, k, rois: subject.rois, format, ...(opts.rois ? { roiNames: wanted } : {}) }, join(outDir, `clusters.${format}`))];

        // Fig. 9: the top-3 PCs of each ROI's w_i on the aligned features of a few test images.
        let pca: Record<string, unknown> | undefined;
        const pcaRois = (opts.rois ? wanted : PCA_DEFAULT_ROIS.filter((r) => subject.rois.has(r))).filter((roi) => rows(roi).length >= 4);
        if (nImages > 0 && pcaRois.length > 0) {
          const images = datasetImages(dataset, metrics.subject);
          const testRows = Array.from(readNpy(join(runDir, 'test_rows.npy')).data).slice(0, nImages).map(Number);
          const variant = commandRegistry(ctx, opts).variant(metrics.plugin, metrics.variant);
          const { store } = await extractFeatures({ variant, images, cacheRoot: cacheDir(opts.cache), device: parseDevice(opts.device), gridResize: metrics.gridResize ?? 'bilinear', quiet: opts.quiet, log: (l) => ctx.io.err(l) });
          try {
            const G = store.meta.G;
            const local = store.meta.layers.map((_, l) => store.gatherLocal(l, testRows));
            const rgb = pcaRois.map((roi) => {
              const r = rows(roi);
              const omega = new Float64Array(L);
              for (const i of r) for (let l = 0; l < L; l++) omega[l] += w.omega[i * L + l] / r.length;
              return pcaImages({ local, channels: metrics.layers.map((x) => x.channels), alignLocal: w.alignLocal, omega, components: principalComponents(w.readoutW, r, D, 3), images: testRows.length, G, D });
            });
            const stacked = new Float32Array(rgb.length * testRows.length * G * G * 3);
            rgb.forEach((a, i) => stacked.set(a, i * a.length));
            writeNpy(join(outDir, 'pca_rgb.npy'), stacked, [rgb.length, testRows.length, G, G, 3]);
            files.push(await pics.drawPcaGrid({ title: `${label}: channel PCA per ROI (Fig. 9)`, images: testRows.map((row) => images[row].path), rois: pcaRois, rgb, G, format }, join(outDir, `pca.${format}`)));
            pca = { rois: pcaRois, imageRows: testRows, G };
          } finally {
            store.close();
          }
        }
        report = {
          run: runDir,
          plugin: metrics.plugin,
          variant: metrics.variant,
          subject: metrics.subject,
          voxels: n,
          channels: D,
          clustering: { method: clustering.method, k, seed, ...(clustering.tau !== undefined ? { tau: clustering.tau } : {}), ...(clustering.landmarks ? { landmarks: clustering.landmarks } : {}), sizes: Array.from({ length: k }, (_, c) => clustering.labels.filter((x) => x === c).length), adjustedRandIndexWithRois: ari },
          rois: perRoi,
          ...(pca ? { pca } : {}),
          files,
        };
        writeJsonAtomic(join(outDir, 'channels.json'), report);
      } finally {
        subject.close();
      }
      if (opts.json) {
        ctx.io.out(JSON.stringify(report, null, 2));
        return;
      }
      const rois = report.rois as { roi: string; voxels: number; channelParticipationRatio: number; positionSpread: number; dominantCluster: number | null; dominantShare: number | null }[];
      const fmt = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
      ctx.io.out(`channels of ${metrics.plugin}/${metrics.variant} ${metrics.subject}: ${k} clusters (${(report.clustering as { method: string }).method}) of ${report.voxels as number} voxels × ${report.channels as number} channels`);
      ctx.io.out('ROI      voxels  channel PR  position spread  main cluster');
      for (const r of rois) ctx.io.out(`${r.roi.padEnd(8)} ${String(r.voxels).padStart(6)}  ${fmt(r.channelParticipationRatio, 1).padStart(10)}  ${fmt(r.positionSpread, 3).padStart(15)}  ${r.dominantCluster ?? '–'}${r.dominantShare !== null ? ` (${Math.round(100 * r.dominantShare)}%)` : ''}`);
      ctx.io.out('channel PR: participation ratio of the ROI\'s channel weights (how many channel directions it uses); position spread: RMS distance of its selected image positions, in image widths');
      for (const f of report.files as string[]) ctx.io.out(`wrote ${f}`);
    });
}
