/**
 * Plans a bench: which extract and fit jobs exist and which are already done. Done-ness comes
 * from the run store and the cache alone (content keys computed from the ONNX file, the image
 * set and the fMRI files), so a resumed bench on a machine with a cleaned cache extracts only
 * what its unfinished fits need.
 */
import { existsSync } from 'node:fs';
import { sha256File, sha256FilesMemo } from '../core/hash.js';
import { openSubject } from '../data/algonauts.js';
import { entryDir, readEntryMeta } from '../features/cache.js';
import { featureKey, imageSetHash, missingOnnxError, sessionIdentity } from '../features/extract.js';
import { extractorFor } from '../features/extractors/index.js';
import { runKey, subjectImages } from '../fit/train.js';
import { DEFAULT_CONFIG } from '../model/config.js';
import type { ResolvedVariant } from '../plugins/manifest.js';
import { readCheckpointHeader } from '../fit/checkpoint.js';
import { onnxOnlyMismatch } from '../plugins/onnx-only.js';
import { UNVERIFIED, checkRunFiles, inspectRunMetrics, runCheckpointPath, runDirFor } from '../runs/store.js';
import { MERGE_JOB_ID, extractJobId, fitJobId, type BenchContext, type ExtractJob, type FitJob, type Job, type Plan, type UnavailableVariant } from './jobs.js';

/** The local grid every fit uses (the authors' G = 8). */
const GRID = 8;

export interface PlanInput {
  context: BenchContext;
  variants: readonly ResolvedVariant[];
  subjects: readonly string[];
}

interface SubjectFacts {
  id: string;
  imageSetSha: string;
  responsesSha256: string;
}

function subjectFacts(datasetDir: string, id: string): SubjectFacts {
  const subject = openSubject(datasetDir, id);
  try {
    return { id: subject.id, imageSetSha: imageSetHash(subjectImages(subject)), responsesSha256: sha256FilesMemo([subject.fmriFiles.lh, subject.fmriFiles.rh]) };
  } finally {
    subject.close();
  }
}

/**
 * A variant without its ONNX file is listed, not run (the rest of the zoo still runs); so is an
 * ONNX-only variant whose file is not the one plugin.json declares (its provenance would be false).
 */
function unavailable(v: ResolvedVariant): UnavailableVariant | undefined {
  if (!existsSync(v.onnxPath)) {
    const err = missingOnnxError(v);
    return { plugin: v.pluginId, variant: v.name, reason: `no ONNX file at ${v.onnxPath}${v.onnxOnly ? ' (an ONNX-only variant)' : ''}`, fix: err.fix ?? '' };
  }
  // The extractor's other files (the diffusion extractor's VAE and prompt embedding).
  const side = extractorFor(v.extractor, v.manifestPath).sideFiles(v).find((f) => !existsSync(f));
  if (side) return { plugin: v.pluginId, variant: v.name, reason: `no file at ${side} (the ${v.extractor.kind} extractor reads it beside the ONNX)`, fix: missingOnnxError(v).fix ?? '' };
  return undefined;
}

/** An ONNX-only variant whose file is not the declared one (by the sha256 the plan computed anyway). */
function notDeclared(v: ResolvedVariant, onnxSha: string): UnavailableVariant | undefined {
  if (!v.onnxOnly || v.onnxOnly.sha256 === onnxSha) return undefined;
  const { message, fix } = onnxOnlyMismatch(v, { sha256: onnxSha, declared: v.onnxOnly.sha256 });
  return { plugin: v.pluginId, variant: v.name, reason: message, fix };
}

function cacheEntryComplete(dir: string): boolean {
  if (!existsSync(dir)) return false;
  try {
    readEntryMeta(dir);
    return true;
  } catch {
    return false;
  }
}

export function planBench(input: PlanInput): Plan {
  const { context } = input;
  const config = { ...DEFAULT_CONFIG, ...context.config };
  const subjects = input.subjects.map((s) => subjectFacts(context.datasetDir, s));
  // Subjects with the same images share one extraction.
  const imageSets = new Map<string, string[]>();
  for (const s of subjects) imageSets.set(s.imageSetSha, [...(imageSets.get(s.imageSetSha) ?? []), s.id]);

  const missing: UnavailableVariant[] = [];
  // Extractions by session identity and image set: variants one session extracts together share a job.
  const groups = new Map<string, ExtractJob>();
  const planned: Array<{ extracts: ExtractJob[]; fits: FitJob[] }> = [];
  for (const variant of input.variants) {
    const gap = unavailable(variant);
    if (gap) {
      missing.push(gap);
      continue;
    }
    const onnxSha = sha256File(variant.onnxPath);
    const wrongFile = notDeclared(variant, onnxSha);
    if (wrongFile) {
      missing.push(wrongFile);
      continue;
    }
    const identity = sessionIdentity(variant, onnxSha);
    const extractByImageSet = new Map<string, { job: ExtractJob; featureKey: string }>();
    for (const [imageSetSha, ids] of imageSets) {
      const key = featureKey(variant, onnxSha, imageSetSha, GRID, context.device, context.gridResize);
      const complete = cacheEntryComplete(entryDir(context.cacheRoot, variant.pluginId, variant.name, key));
      const group = `${identity}\n${imageSetSha}`;
      let job = groups.get(group);
      if (job) {
        job.also = [...(job.also ?? []), { variant: variant.name, featureKey: key }];
        if (!complete) job.state = 'todo';
      } else {
        job = {
          kind: 'extract',
          id: extractJobId(variant.pluginId, variant.name, key),
          dependsOn: [],
          state: complete ? 'done' : 'todo',
          plugin: variant.pluginId,
          variant: variant.name,
          resources: variant.resources,
          subjects: ids,
          featureKey: key,
        };
        groups.set(group, job);
      }
      extractByImageSet.set(imageSetSha, { job, featureKey: key });
    }
    const fits: FitJob[] = subjects.flatMap((s) => context.seeds.map((seed): FitJob => {
      const extract = extractByImageSet.get(s.imageSetSha) as { job: ExtractJob; featureKey: string };
      const runDir = runDirFor(context.outDir, { plugin: variant.pluginId, variant: variant.name, subject: s.id, seed, device: context.device });
      const key = runKey({ featureKey: extract.featureKey, responsesSha256: s.responsesSha256, config, seed, splitSeed: context.splitSeed, device: context.device, subject: s.id });
      const prior = inspectRunMetrics(runDir);
      // A run of this key is done only when its files are the ones it committed (sizes, then sha256).
      const files = prior.state === 'finished' && prior.metrics.key === key ? checkRunFiles(runDir, prior.metrics) : undefined;
      const done = files?.state === 'ok';
      const why = done ? undefined : prior.state === 'damaged' || files?.state === 'damaged' ? 'damaged' : files?.state === 'unverified' ? 'unverified' : prior.state === 'finished' ? 'stale' : 'new';
      const problem = prior.state === 'damaged' ? prior.problem : files?.state === 'damaged' ? files.problem : files?.state === 'unverified' ? UNVERIFIED : undefined;
      const checkpoint = done ? undefined : readCheckpointHeader(runCheckpointPath(runDir));
      const resumeFrom = checkpoint?.state === 'ok' && checkpoint.header.key === key ? { epoch: checkpoint.header.epoch, step: checkpoint.header.step } : undefined;
      return {
        kind: 'fit',
        id: fitJobId(variant.pluginId, variant.name, s.id, seed, context.device),
        dependsOn: [extract.job.id],
        state: done ? 'done' : 'todo',
        ...(why ? { why } : {}),
        ...(problem ? { problem } : {}),
        ...(resumeFrom ? { resumeFrom } : {}),
        ...(done && prior.state === 'finished' ? { finished: { testR2: prior.metrics.testR2, converged: prior.metrics.convergence?.converged ?? false } } : {}),
        plugin: variant.pluginId,
        variant: variant.name,
        resources: variant.resources,
        subject: s.id,
        seed,
        runDir,
        runKey: key,
      };
    }));
    planned.push({ extracts: [...new Set([...extractByImageSet.values()].map((e) => e.job))], fits });
  }
  // An extraction is a job only while a fit still needs it; it comes before the first fit that does.
  const allFits = planned.flatMap((p) => p.fits);
  const needed = (extract: ExtractJob): boolean => allFits.some((f) => f.state === 'todo' && f.dependsOn.includes(extract.id));
  const jobs: Job[] = [];
  for (const { extracts, fits } of planned) {
    for (const extract of extracts) if (!jobs.includes(extract) && needed(extract)) jobs.push(extract);
    for (const f of fits) {
      if (!jobs.some((j) => j.id === f.dependsOn[0])) f.dependsOn = [];
      jobs.push(f);
    }
  }
  const fitIds = jobs.filter((j) => j.kind === 'fit').map((j) => j.id);
  jobs.push({ kind: 'merge', id: MERGE_JOB_ID, dependsOn: fitIds, state: 'todo' });
  return { format: 1, context, subjects: subjects.map((s) => s.id), jobs, unavailable: missing };
}

/** Text rendering of a plan for `zoo bench --plan`. */
export function renderPlan(plan: Plan): string[] {
  const lines: string[] = [];
  const count = (kind: Job['kind'], state?: Job['state']): number => plan.jobs.filter((j) => j.kind === kind && (!state || j.state === state)).length;
  lines.push(`plan: ${count('extract', 'todo')} extract, ${count('fit', 'todo')} fit (${count('fit', 'done')} already done), 1 merge; out ${plan.context.outDir}`);
  for (const job of plan.jobs) {
    const deps = job.kind === 'merge' ? `after ${job.dependsOn.length} fits` : job.dependsOn.length ? `after ${job.dependsOn.join(', ')}` : '';
    const why = job.kind === 'fit' && job.why && job.why !== 'new' ? ` (${job.why}${job.problem ? `: ${job.problem}` : ''})` : '';
    const resume = job.kind === 'fit' && job.resumeFrom ? ` (resumes from epoch ${job.resumeFrom.epoch}, step ${job.resumeFrom.step})` : '';
    const shared = job.kind === 'extract' && job.also?.length ? ` (one session with ${job.also.map((a) => `${job.plugin}/${a.variant}`).join(', ')})` : '';
    lines.push(`  ${job.state === 'done' ? 'done' : 'todo'}  ${job.id}${shared}${why}${resume}${deps ? `  ${deps}` : ''}`);
  }
  for (const u of plan.unavailable) lines.push(`  not run  ${u.plugin}/${u.variant}: ${u.reason} — ${u.fix}`);
  return lines;
}
