/** Metrics of fitted runs: brain score and the max model, hierarchy, fine-tune drops, bootstrap. */
export * from './brain-score.js';
export * from './bootstrap.js';
export * from './finetune.js';
export * from './hierarchy.js';
export * from './runs.js';
export * from './stats.js';
