/**
 * Fine-tune drop (the paper's Table 3, "brain score dropped after fine-tuning on small
 * datasets"): for a variant fine-tuned from another (plugin.json `finetune.from`), the change
 * of each score from the pre-trained variant to the fine-tuned one, on the same subject:
 *
 *   change = fine-tuned − pre-trained
 *
 * so a drop is negative and "higher is better" still holds (less forgetting). Bootstrap
 * replicates, when both sides have them, subtract replicate by replicate (the image resamples
 * of one subject are shared by all its runs, so the pairs are matched).
 */

export interface Scores {
  meanR2: number;
  roiR2: ReadonlyMap<string, number>;
  slope: number;
}

export interface ScoreChange {
  meanR2Change: number;
  /** Only ROIs present on both sides. */
  roiR2Change: Map<string, number>;
  slopeChange: number;
}

/** fine-tuned − pre-trained, score by score (NaN stays NaN). */
export function finetuneChange(pretrained: Scores, finetuned: Scores): ScoreChange {
  const roi = new Map<string, number>();
  for (const [name, ft] of finetuned.roiR2) {
    const pre = pretrained.roiR2.get(name);
    if (pre !== undefined) roi.set(name, ft - pre);
  }
  return { meanR2Change: finetuned.meanR2 - pretrained.meanR2, roiR2Change: roi, slopeChange: finetuned.slope - pretrained.slope };
}

/** Replicate-wise difference b − a (undefined unless both exist with one length). */
export function replicateDifference(a: Float64Array | undefined, b: Float64Array | undefined): Float64Array | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = b[i] - a[i];
  return out;
}
