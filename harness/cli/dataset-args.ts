/** Shared handling of --dataset and --subjects for the commands that read a dataset. */
import { basename, join, resolve } from 'node:path';
import { ZooError, suggest } from '../core/errors.js';
import { bundledDatasetDir } from '../core/paths.js';
import { listImages, listSubjects, normalizeSubjectId } from '../data/algonauts.js';
import type { ImageRef } from '../features/extract.js';

/** --dataset, or the bundled synthetic dataset when none is given. */
export function resolveDataset(dataset: string | undefined, cwd: string): string {
  return dataset ? resolve(cwd, dataset) : bundledDatasetDir();
}

/** --subjects (comma-separated, "subj01" or "1"), or every subject of the dataset. */
export function resolveSubjects(dataset: string, subjects: string | undefined): string[] {
  const available = listSubjects(dataset);
  if (available.length === 0) throw new ZooError('E_DATASET', 'no subjXX folders in the dataset', { file: dataset, fix: 'see README "Dataset layout"' });
  if (subjects === undefined) return available;
  const wanted = subjects.split(',').map((s) => normalizeSubjectId(s.trim())).filter(Boolean);
  // An empty list (--subjects "" from an unset shell variable) must not quietly mean "all".
  if (wanted.length === 0) throw new ZooError('E_ARGS', 'the subject list is empty', { found: subjects, file: dataset, fix: `name subjects (e.g. ${available[0]}), or leave the flag out for all of them: ${available.join(', ')}` });
  for (const s of wanted) {
    if (!available.includes(s)) throw new ZooError('E_SUBJECT_UNKNOWN', `unknown subject "${s}"`, { file: dataset, fix: suggest(s, available) });
  }
  return wanted;
}

/** The subject's training images in fMRI row order. */
export function datasetImages(dataset: string, subject: string): ImageRef[] {
  return listImages(join(dataset, subject, 'training_split', 'training_images')).map((e) => ({ id: basename(e.file).replace(/\.png$/, ''), path: e.file }));
}
