/**
 * Running a plugin's export.py: the one place that knows how (used by `zoo export` and by
 * `zoo plugins test`). The exporter imports the shared Python library `brainzoo_export`, which
 * ships with brainzoo in plugins/_lib; it is put on PYTHONPATH here, so an exporter works from
 * any plugin location (installed brainzoo, a repository checkout, a --plugins folder, an npm
 * package) without environment variables of the user's.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ZooError } from '../core/errors.js';
import { packageRoot, pythonExecutable } from '../core/paths.js';
import type { PluginManifest, ResolvedPlugin, ResolvedVariant } from './manifest.js';
import { resolvePlugin } from './validate.js';
import { CONTAINED_FIX, containNamed } from './containment.js';

/** brainzoo's plugins/_lib: the folder that holds the `brainzoo_export` package. */
export function pythonLibDir(): string {
  return join(packageRoot(), 'plugins', '_lib');
}

/**
 * The environment variable that hands an exporter its plugin as the harness resolved it: the
 * path of a file holding the ResolvedPlugin as JSON (a file, because a plugin with many
 * variants outgrows what one environment string may hold). plugins/_lib/brainzoo_export/
 * manifest.py reads it when its `file` is the plugin.json being exported, and otherwise asks
 * `zoo plugins show PATH --resolved --json`.
 */
export const RESOLVED_PLUGIN_ENV = 'BRAINZOO_RESOLVED_PLUGIN';

/**
 * The environment an exporter runs in: `base` with plugins/_lib first on PYTHONPATH and, when
 * given, the file of the resolved plugin in $BRAINZOO_RESOLVED_PLUGIN (so the exporter need not call back).
 */
export function exporterEnv(base: NodeJS.ProcessEnv = process.env, resolvedFile?: string): NodeJS.ProcessEnv {
  const path = [pythonLibDir(), ...(base.PYTHONPATH ?? '').split(delimiter).filter(Boolean)];
  const env: NodeJS.ProcessEnv = { ...base, PYTHONPATH: path.join(delimiter) };
  if (resolvedFile) env[RESOLVED_PLUGIN_ENV] = resolvedFile;
  else delete env[RESOLVED_PLUGIN_ENV];
  return env;
}

/** Writes the resolved plugin to a private temporary file for an exporter; returns it and how to remove it. */
export function writeResolvedPlugin(resolved: ResolvedPlugin): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'brainzoo-resolved-'));
  const file = join(dir, 'plugin.resolved.json');
  writeFileSync(file, JSON.stringify(resolved));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The Python that runs a plugin's exporter: the manifest's export.python, $BRAINZOO_PYTHON, /usr/bin/python3, python3. */
export function exporterPython(manifest: PluginManifest): string {
  return manifest.export.python ?? pythonExecutable();
}

export type PythonProbe = { ok: true; python: string } | { ok: false; python: string; reason: string };

const probes = new Map<string, PythonProbe>();

/** Whether `python` can import what exporters need (torch, onnx, numpy); asked once per process. */
export function probePython(python: string): PythonProbe {
  const known = probes.get(python);
  if (known) return known;
  const run = spawnSync(python, ['-c', 'import torch, onnx, numpy'], { encoding: 'utf8', timeout: 120_000 });
  let probe: PythonProbe;
  if (run.error) probe = { ok: false, python, reason: `cannot run ${python} (${(run.error as NodeJS.ErrnoException).code ?? run.error.message})` };
  else if (run.status !== 0) {
    const missing = /No module named '([^']+)'/.exec(run.stderr)?.[1];
    probe = { ok: false, python, reason: missing ? `${python} has no module ${missing}` : `${python} -c "import torch, onnx, numpy" exited ${run.status}` };
  } else probe = { ok: true, python };
  probes.set(python, probe);
  return probe;
}

export const PYTHON_FIX = 'install Python 3 with PyTorch and onnx (Debian: apt-get install python3-torch python3-torchvision python3-onnx), or point $BRAINZOO_PYTHON at a Python that has them';

export interface ExportRequest {
  /** The plugin folder (holds plugin.json and the export script). */
  dir: string;
  manifest: PluginManifest;
  variant: ResolvedVariant;
  /** The models folder the variants' default ONNX paths lie in (--models; default $BRAINZOO_MODELS). */
  models?: string;
  out: string;
  checkpoint?: string;
  randomInit?: boolean;
  finetune?: string;
  steps?: string;
  seed?: string;
  /** Further export.py flags, passed as they are (--opset N, --save-state-dict F, --log-every N, --device D). */
  extra?: readonly string[];
  /** stderr: 'inherit' shows the exporter's progress; 'pipe' keeps it for the caller. */
  stderr?: 'inherit' | 'pipe';
  timeoutMs?: number;
}

export interface ExportRun {
  stdout: string;
  /** The exporter's one-line JSON summary (export.py --json). */
  summary: Record<string, unknown>;
  stderr: string;
}

/** The export.py command line for a request (without the Python executable). */
export function exporterArgs(req: ExportRequest): string[] {
  const args = [join(req.dir, req.manifest.export.script), '--variant', req.variant.name, '--out', req.out, '--json'];
  if (req.checkpoint) args.push('--checkpoint', req.checkpoint);
  if (req.randomInit) args.push('--random-init');
  if (req.finetune) args.push('--finetune', req.finetune);
  if (req.steps) args.push('--steps', req.steps);
  if (req.seed) args.push('--seed', req.seed);
  args.push(...(req.extra ?? []));
  return args;
}

/** Runs the exporter; a failure is a ZooError E_PYTHON naming the script, with the exporter's own error. */
export function runExporter(req: ExportRequest): ExportRun {
  const python = exporterPython(req.manifest);
  const script = join(req.dir, req.manifest.export.script);
  // checked by validate already; checked again at the moment it runs (a link may have changed since)
  const contained = containNamed(req.dir, req.manifest.export.script, 'export.script');
  if (!contained.ok) throw new ZooError('E_PLUGIN_MANIFEST', contained.message, { file: join(req.dir, 'plugin.json'), path: '/export/script', fix: CONTAINED_FIX });
  const resolved = writeResolvedPlugin(resolvePlugin(req.manifest, join(req.dir, 'plugin.json'), req.models));
  let run: SpawnSyncReturns<string>;
  try {
    run = spawnSync(python, exporterArgs(req), {
      encoding: 'utf8',
      env: exporterEnv(process.env, resolved.file),
      stdio: ['ignore', 'pipe', req.stderr ?? 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
      timeout: req.timeoutMs,
    });
  } finally {
    resolved.remove();
  }
  if (run.error) {
    const timedOut = (run.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    throw new ZooError('E_PYTHON', timedOut ? `export.py did not finish within ${Math.round((req.timeoutMs ?? 0) / 1000)} s` : `cannot run ${python}: ${run.error.message}`, {
      file: script,
      fix: timedOut ? 'run the export by hand (zoo export …) to see where it stops' : PYTHON_FIX,
    });
  }
  const stderr = run.stderr ?? '';
  if (run.status !== 0) {
    // export.py prints "error: … / file: … / fix: …" (exit 2): keep that block's words, not a traceback
    const own = /^error: (.*)$/m.exec(stderr.slice(Math.max(0, stderr.lastIndexOf('error: '))));
    const ownFix = own ? /^\s+fix: (.*)$/m.exec(stderr.slice(stderr.lastIndexOf('error: ')))?.[1] : undefined;
    throw new ZooError('E_PYTHON', `export.py failed (exit ${run.status})${own ? `: ${own[1]}` : ''}`, {
      file: script,
      // A crash without the exporter's own error block: say where to look, and name the checkpoint only when one was given.
      fix: ownFix ?? `read the exporter's error output above (its last line says what failed)${req.checkpoint ? `; check that ${req.checkpoint} is the variant's official file` : ''}`,
    });
  }
  const line = run.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  let summary: Record<string, unknown> = {};
  if (line) {
    try {
      summary = JSON.parse(line) as Record<string, unknown>;
    } catch {
      summary = {};
    }
  }
  return { stdout: run.stdout, summary, stderr };
}
