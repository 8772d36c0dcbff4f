/**
 * Runs one extract or fit job in this process. Every executor ends here: the local pool's
 * worker processes and a SLURM array task alike. A job's outcome is data (never a throw), with
 * the error formatted as the CLI would print it.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { asZooError } from '../core/errors.js';
import type { ProgressSink } from '../core/progress.js';
import { openSubject } from '../data/algonauts.js';
import { extractFeatureGroup } from '../features/extract.js';
import { fitSubject, subjectImages } from '../fit/train.js';
import { PluginRegistry } from '../plugins/registry.js';
import type { BenchContext, ExtractJob, FitJob } from './jobs.js';

export interface JobResult {
  ok: boolean;
  /** One line for the terminal (the fit's test R², or the extraction's image count). */
  summary: string;
  /** Fit only: test R², steps, seconds, converged, reused. */
  fit?: { testR2: number; steps: number; seconds: number; converged: boolean; reused: boolean };
  /** The error as the CLI prints it (code, file, fix). */
  error?: { code: string; text: string };
}

export interface JobHooks {
  log: (line: string) => void;
  progress?: ProgressSink;
  /** The CUDA device this job may use (the local executor gives each running job its own). */
  gpu?: number;
}

function failure(err: unknown): JobResult {
  const zoo = asZooError(err);
  if (zoo) return { ok: false, summary: zoo.message, error: { code: zoo.code, text: zoo.format() } };
  const e = err as Error;
  return { ok: false, summary: e?.message ?? String(err), error: { code: 'E_INTERNAL', text: `internal error: ${e?.stack ?? String(err)}` } };
}

/**
 * runJob with its log file: every line the job logs, timestamped, plus a first line saying
 * where it runs (`where`) and a last one with the outcome (the error as the CLI prints it).
 */
export async function runLoggedJob(job: ExtractJob | FitJob, context: BenchContext, logFile: string, where: string, hooks: Omit<JobHooks, 'log'> = {}): Promise<JobResult> {
  mkdirSync(dirname(logFile), { recursive: true });
  const log = (line: string): void => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
  log(`job ${job.id} started (${where}, ${context.threads} ONNX Runtime thread(s)${hooks.gpu !== undefined ? `, GPU ${hooks.gpu}` : ''})`);
  const result = await runJob(job, context, { ...hooks, log });
  log(result.ok ? `job ${job.id} done: ${result.summary}` : `job ${job.id} FAILED\n${result.error?.text ?? result.summary}`);
  return result;
}

export async function runJob(job: ExtractJob | FitJob, context: BenchContext, hooks: JobHooks): Promise<JobResult> {
  try {
    const registry = new PluginRegistry({ extraDirs: context.registry.extraDirs, models: context.registry.models, cwd: context.registry.cwd });
    const variant = registry.variant(job.plugin, job.variant);
    if (job.kind === 'extract') {
      const subject = openSubject(context.datasetDir, job.subjects[0]);
      try {
        // The variants one session extracts together (the plan's grouping), each with its own entry.
        const members = [{ variant: job.variant, featureKey: job.featureKey }, ...(job.also ?? [])];
        const results = await extractFeatureGroup({
          variants: members.map((m) => registry.variant(job.plugin, m.variant)),
          images: subjectImages(subject), cacheRoot: context.cacheRoot, device: context.device, threads: context.threads, gpu: hooks.gpu, gridResize: context.gridResize, sink: hooks.progress, log: hooks.log,
        });
        for (const r of results) r.store.close();
        const wrong = members.findIndex((m, i) => results[i].store.meta.key !== m.featureKey);
        if (wrong >= 0) {
          // The plan and the extraction disagree on the cache key: a planner bug, not bad input.
          return failure(new Error(`planned feature key ${members[wrong].featureKey} for ${job.plugin}/${members[wrong].variant} but extracted ${results[wrong].store.meta.key}`));
        }
        const computed = results.find((r) => !r.reused);
        return { ok: true, summary: computed ? `${computed.computed} images in ${computed.seconds.toFixed(0)} s${results.length > 1 ? ` (${results.length} variants, one session)` : ''}` : 'features reused' };
      } finally {
        subject.close();
      }
    }
    const r = await fitSubject({
      variant, datasetDir: context.datasetDir, subject: job.subject, outDir: context.outDir, cacheRoot: context.cacheRoot,
      device: context.device, seed: job.seed, splitSeed: context.splitSeed, config: context.config, threads: context.threads, gpu: hooks.gpu, gridResize: context.gridResize, progress: hooks.progress, log: hooks.log,
    });
    const m = r.metrics;
    const converged = m.convergence?.converged ?? false;
    return {
      ok: true,
      summary: `test R² ${m.testR2.toFixed(4)}${r.reused ? ' (reused)' : ` (${m.steps} steps, ${m.seconds.toFixed(0)} s)`}${converged ? '' : ' — NOT CONVERGED'}${m.excludedVoxels?.length ? `; ${m.voxels - m.usedVoxels} voxels without a test R² left out (${m.excludedVoxels.map((e) => `${e.count} ${e.reason}`).join(', ')})` : ''}`,
      fit: { testR2: m.testR2, steps: m.steps, seconds: m.seconds, converged, reused: r.reused },
    };
  } catch (err) {
    return failure(err);
  }
}
