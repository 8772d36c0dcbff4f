/**
 * The SLURM executor: the plan's extract jobs become sbatch job arrays, the fit jobs arrays that
 * start after them (afterany: a fit whose extraction failed reports itself as skipped), and the
 * merge one job after every fit. Jobs with different resource hints (plugin.json "resources",
 * overridden by flags) go to different arrays. Each array task runs `zoo bench-task FILE A I`,
 * which runs one job exactly as a local worker does and records it in DIR/status/ (one file per
 * job, so tasks on different nodes never write the same file); `zoo bench --status OUT` reads
 * them back.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ZooError } from '../core/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/fsutil.js';
import type { ResourceHints } from '../plugins/manifest.js';
import { jobFileName, type BenchContext, type ExtractJob, type FitJob, type Plan } from './jobs.js';

export interface SlurmSettings {
  partition?: string;
  account?: string;
  /** Passed to every sbatch call as they are (--slurm-arg). */
  extraArgs: string[];
  /** Overrides of the plugins' resource hints. */
  resources: ResourceHints;
  /** How a compute node runs zoo: the node executable and the bin (shared file system). */
  zoo: [string, string];
  /** sbatch to call (default: sbatch on PATH). */
  sbatch?: string;
}

export interface SlurmArray {
  name: string;
  kind: 'extract' | 'fit';
  resources: ResourceHints;
  jobs: (ExtractJob | FitJob)[];
  slurmJobId?: string;
}

/** DIR/jobs.json: everything an array task needs. */
export interface SlurmJobsFile {
  format: 1;
  context: BenchContext;
  subjects: string[];
  arrays: SlurmArray[];
  /** Runs of the plan that were already finished when it was submitted (the merge scores them too). */
  doneRunDirs: string[];
  mergeJobId?: string;
}

export type TaskStatus = 'running' | 'done' | 'failed' | 'skipped';

/** DIR/status/<job>.json, written by the task that runs the job. */
export interface TaskRecord {
  id: string;
  description: string;
  status: TaskStatus;
  host: string;
  slurmJobId?: string;
  summary?: string;
  error?: string;
  logFile?: string;
  updatedAt: string;
}

export const JOBS_FILE = 'jobs.json';

function signature(r: ResourceHints): string {
  return JSON.stringify([r.memory ?? '', r.gpus ?? 0, r.time ?? '']);
}

/** Groups jobs of one kind by their resources (flags override the plugins' hints). */
function arraysOf(kind: 'extract' | 'fit', jobs: readonly (ExtractJob | FitJob)[], overrides: ResourceHints): SlurmArray[] {
  const groups = new Map<string, SlurmArray>();
  for (const job of jobs) {
    const resources: ResourceHints = { ...job.resources, ...overrides };
    const key = signature(resources);
    const group = groups.get(key) ?? { name: `${kind}-${groups.size}`, kind, resources, jobs: [] };
    group.jobs.push(job);
    groups.set(key, group);
  }
  return [...groups.values()];
}

function sbatchScript(dir: string, jobsFile: string, arrayIndex: number, array: SlurmArray, context: BenchContext, settings: SlurmSettings): string {
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=brainzoo-${array.name}`,
    `#SBATCH --array=0-${array.jobs.length - 1}`,
    `#SBATCH --output=${join(dir, 'logs', `${array.name}-%a.out`)}`,
    `#SBATCH --cpus-per-task=${context.threads}`,
  ];
  if (array.resources.memory) lines.push(`#SBATCH --mem=${array.resources.memory}`);
  if (array.resources.gpus) lines.push(`#SBATCH --gpus=${array.resources.gpus}`);
  if (array.resources.time) lines.push(`#SBATCH --time=${array.resources.time}`);
  lines.push(`# ${array.jobs.length} ${array.kind} job(s): ${array.jobs.map((j) => j.id).join(' ')}`);
  lines.push('set -euo pipefail', `cd ${shellQuote(context.registry.cwd)}`);
  lines.push(`exec ${settings.zoo.map(shellQuote).join(' ')} bench-task ${shellQuote(jobsFile)} ${arrayIndex} "$SLURM_ARRAY_TASK_ID"`);
  return `${lines.join('\n')}\n`;
}

function mergeScript(dir: string, jobsFile: string, context: BenchContext, settings: SlurmSettings): string {
  return [
    '#!/bin/bash',
    '#SBATCH --job-name=brainzoo-merge',
    `#SBATCH --output=${join(dir, 'logs', 'merge.out')}`,
    '#SBATCH --cpus-per-task=1',
    'set -euo pipefail',
    `cd ${shellQuote(context.registry.cwd)}`,
    `exec ${settings.zoo.map(shellQuote).join(' ')} bench-merge ${shellQuote(jobsFile)}`,
    '',
  ].join('\n');
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

function sbatch(settings: SlurmSettings, args: string[], script: string): string {
  const common = [...(settings.partition ? [`--partition=${settings.partition}`] : []), ...(settings.account ? [`--account=${settings.account}`] : []), ...settings.extraArgs];
  const bin = settings.sbatch ?? 'sbatch';
  try {
    const out = execFileSync(bin, ['--parsable', ...common, ...args, script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const id = out.trim().split(';')[0];
    if (!/^\d+$/.test(id)) throw new Error(`unexpected sbatch output: ${out.trim()}`);
    return id;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message?: string };
    if (e.code === 'ENOENT') throw new ZooError('E_ARGS', `${bin} not found: SLURM's client tools are not on PATH`, { fix: 'run on a SLURM login node, or use the local executor (leave out --executor slurm)' });
    throw new ZooError('E_ARGS', `sbatch refused the job: ${(e.stderr || e.message || String(err)).trim().split('\n')[0]}`, { file: script, fix: 'check --partition, --account and --slurm-arg against `sinfo` and your site\'s rules' });
  }
}

/** Writes the jobs file and scripts under DIR and submits the arrays and the merge job. */
export function submitSlurm(plan: Plan, jobs: readonly (ExtractJob | FitJob)[], dir: string, settings: SlurmSettings): SlurmJobsFile {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'status'), { recursive: true });
  const extract = jobs.filter((j): j is ExtractJob => j.kind === 'extract');
  const fits = jobs.filter((j): j is FitJob => j.kind === 'fit');
  const arrays = [...arraysOf('extract', extract, settings.resources), ...arraysOf('fit', fits, settings.resources)];
  const doneRunDirs = plan.jobs.filter((j): j is FitJob => j.kind === 'fit' && j.state === 'done').map((j) => j.runDir);
  const file: SlurmJobsFile = { format: 1, context: plan.context, subjects: plan.subjects, arrays, doneRunDirs };
  const jobsFile = join(dir, JOBS_FILE);
  writeJsonAtomic(jobsFile, file);
  const extractIds: string[] = [];
  arrays.forEach((array, i) => {
    const script = join(dir, `${array.name}.sbatch`);
    writeFileAtomic(script, sbatchScript(dir, jobsFile, i, array, plan.context, settings));
    const deps = array.kind === 'fit' && extractIds.length ? [`--dependency=afterany:${extractIds.join(':')}`] : [];
    array.slurmJobId = sbatch(settings, deps, script);
    if (array.kind === 'extract') extractIds.push(array.slurmJobId);
  });
  const mergeFile = join(dir, 'merge.sbatch');
  writeFileAtomic(mergeFile, mergeScript(dir, jobsFile, plan.context, settings));
  const all = arrays.map((a) => a.slurmJobId as string);
  file.mergeJobId = sbatch(settings, all.length ? [`--dependency=afterany:${all.join(':')}`] : [], mergeFile);
  writeJsonAtomic(jobsFile, file);
  return file;
}

export function readJobsFile(path: string): SlurmJobsFile {
  if (!existsSync(path)) throw new ZooError('E_ARGS', 'jobs file not found', { file: path, fix: 'pass the jobs.json that zoo bench --executor slurm wrote' });
  try {
    const f = JSON.parse(readFileSync(path, 'utf8')) as SlurmJobsFile;
    if (f.format !== 1 || !Array.isArray(f.arrays)) throw new Error('unknown format');
    return f;
  } catch (err) {
    throw new ZooError('E_RUN_DAMAGED', `the SLURM jobs file is damaged: ${(err as Error).message}`, { file: path, fix: 'submit the bench again (finished runs are kept)' });
  }
}

export function statusFile(dir: string, jobId: string): string {
  return join(dir, 'status', `${jobFileName(jobId)}.json`);
}

export function writeTaskRecord(dir: string, record: Omit<TaskRecord, 'host' | 'updatedAt'>, slurmJobId?: string): void {
  const full: TaskRecord = { ...record, host: hostname(), ...(slurmJobId ? { slurmJobId } : {}), updatedAt: new Date().toISOString() };
  writeFileAtomic(statusFile(dir, record.id), `${JSON.stringify(full, null, 2)}\n`);
}

export function readTaskRecords(dir: string): Map<string, TaskRecord> {
  const records = new Map<string, TaskRecord>();
  const statusDir = join(dir, 'status');
  if (!existsSync(statusDir)) return records;
  for (const f of readdirSync(statusDir).filter((n) => n.endsWith('.json'))) {
    try {
      const r = JSON.parse(readFileSync(join(statusDir, f), 'utf8')) as TaskRecord;
      records.set(r.id, r);
    } catch {
      // A record being replaced is renamed into place atomically; an unreadable one is not ours.
    }
  }
  return records;
}

/** The job an array task runs. */
export function taskJob(file: SlurmJobsFile, arrayIndex: number, taskIndex: number, jobsFile: string): ExtractJob | FitJob {
  const job = file.arrays[arrayIndex]?.jobs[taskIndex];
  if (!job) throw new ZooError('E_ARGS', `no job ${arrayIndex}/${taskIndex} in the jobs file`, { file: jobsFile, fix: 'this command is run by the sbatch scripts zoo bench writes; submit the bench again' });
  return job;
}
