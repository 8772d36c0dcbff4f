/**
 * Whether each variant's `arch` fits export.py's model builder, checked statically by
 * plugins/_lib/brainzoo_export/arch_check.py (Python's own parser: no torch import, nothing of
 * export.py runs). `zoo plugins validate` reports a key the builder does not take, or a required
 * parameter the arch lacks, before an export would fail on it.
 *
 * A plugin is third-party content, and validating it must not run any of it: the check runs
 * with the harness's own Python (pythonExecutable(): $BRAINZOO_PYTHON, /usr/bin/python3,
 * python3), never the manifest's "export.python", and in Python's isolated mode (-I: neither
 * the working folder nor $PYTHONPATH is on sys.path), so a json.py or brainzoo_export/ in the
 * plugin folder, where a user may well run `zoo plugins validate .`, is never imported.
 * arch_check.py needs only the standard library.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pythonExecutable } from '../core/paths.js';
import type { PluginManifest } from './manifest.js';
import type { ManifestProblem } from './validate.js';
import { pythonLibDir } from './exporter.js';

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
  const python = pythonExecutable();
  const checker = join(pythonLibDir(), 'brainzoo_export', 'arch_check.py');
  const run = spawnSync(python, ['-I', checker, exportPy, manifestFile], { encoding: 'utf8', cwd: pythonLibDir(), timeout: 30_000 });
  if (run.error) return { checked: false, reason: `cannot run ${python} (${(run.error as NodeJS.ErrnoException).code ?? run.error.message})` };
  if (run.status !== 0) return { checked: false, reason: `${exportPy} does not parse: ${run.stderr.trim().split('\n').pop() ?? ''}` };
  let out: ArchCheckOutput;
  try {
    out = JSON.parse(run.stdout) as ArchCheckOutput;
  } catch {
    return { checked: false, reason: `${python} ${checker} printed no JSON (${JSON.stringify(run.stdout.trim().slice(0, 80))})` };
  }
  if (out.skipped) return { checked: false, reason: out.skipped };
  return {
    checked: true,
    builder: out.builder ?? '',
    params: out.params ?? [],
    problems: (out.problems ?? []).map((p) => ({ path: `/variants/${p.variant}/arch`, message: `variant ${p.name}: ${p.message}`, fix: p.fix })),
  };
}
