/**
 * Whether each variant's `arch` fits export.py's model builder, checked statically by
 * plugins/_lib/brainzoo_export/arch_check.py (Python's own parser: no torch import, nothing of
 * export.py runs). `zoo plugins validate` reports a key the builder does not take, or a required
 * parameter the arch lacks, before an export would fail on it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PluginManifest } from './manifest.js';
import type { ManifestProblem } from './validate.js';
import { exporterEnv, exporterPython } from './exporter.js';

export type ArchCheck = { checked: true; builder: string; params: string[]; problems: ManifestProblem[] } | { checked: false; reason: string };

interface ArchCheckOutput {
  builder?: string;
  params?: string[];
  problems?: { variant: number; name: string; message: string; fix: string }[];
  skipped?: string;
}

export function checkArchAgainstBuilder(manifest: PluginManifest, pluginDir: string, manifestFile: string): ArchCheck {
  const exportPy = join(pluginDir, manifest.export.script);
  if (!existsSync(exportPy)) return { checked: false, reason: `no ${manifest.export.script} beside plugin.json` };
  const python = exporterPython(manifest);
  const run = spawnSync(python, ['-m', 'brainzoo_export.arch_check', exportPy, manifestFile], { encoding: 'utf8', env: exporterEnv(), timeout: 30_000 });
  if (run.error) return { checked: false, reason: `cannot run ${python} (${(run.error as NodeJS.ErrnoException).code ?? run.error.message})` };
  if (run.status !== 0) return { checked: false, reason: `${exportPy} does not parse: ${run.stderr.trim().split('\n').pop() ?? ''}` };
  const out = JSON.parse(run.stdout) as ArchCheckOutput;
  if (out.skipped) return { checked: false, reason: out.skipped };
  return {
    checked: true,
    builder: out.builder ?? '',
    params: out.params ?? [],
    problems: (out.problems ?? []).map((p) => ({ path: `/variants/${p.variant}/arch`, message: `variant ${p.name}: ${p.message}`, fix: p.fix })),
  };
}
