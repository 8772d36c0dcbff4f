/** Shared test utilities: temp folders, in-process CLI runs, Debian's python, small image sets. */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { runCli } from '../harness/cli/main.js';
import { bufferIo } from '../harness/cli/io.js';
import { packageRoot, pythonExecutable } from '../harness/core/paths.js';
import { Rng } from '../harness/data/random.js';
import { synthImage } from '../harness/synth/images.js';
import { exporterEnv } from '../harness/plugins/exporter.js';
import type { ImageRef } from '../harness/features/extract.js';
import type { PluginManifest } from '../harness/plugins/manifest.js';

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `brainzoo-${label}-`));
}

export interface ZooRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `zoo ARGS` in-process (the same code path as the bin, minus process binding). */
export async function zoo(args: string[], cwd = packageRoot()): Promise<ZooRun> {
  const io = bufferIo(cwd);
  const code = await runCli(args, io);
  return { code, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') };
}

/** Runs Debian's python (torch, numpy, onnx) with brainzoo_export importable, as `zoo export` does; returns stdout, throws with stderr on failure. */
export function python(args: string[], opts: { input?: string; cwd?: string } = {}): string {
  const run = spawnSync(pythonExecutable(), args, { encoding: 'utf8', input: opts.input, cwd: opts.cwd ?? packageRoot(), maxBuffer: 1 << 28, env: exporterEnv() });
  if (run.status !== 0) throw new Error(`python ${args.join(' ')} failed (${run.status}):\n${run.stderr}`);
  return run.stdout;
}

/** Writes `count` procedural PNG images of side `size` and returns them as ImageRefs. */
export async function writeImages(dir: string, count: number, size: number, seed = 0): Promise<ImageRef[]> {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(`test-images:${seed}`);
  const out: ImageRef[] = [];
  for (let i = 0; i < count; i++) {
    const img = synthImage(rng, size);
    const id = `img${String(i).padStart(4, '0')}`;
    const path = join(dir, `${id}.png`);
    await sharp(Buffer.from(img.rgb), { raw: { width: size, height: size, channels: 3 } }).png().toFile(path);
    out.push({ id, path });
  }
  return out;
}

/** Where bundledPluginCopy puts the copied fixtures, inside the copy. */
export const COPIED_FIXTURES = 'onnx';

/**
 * Copies a bundled plugin to `dst` with its ONNX fixtures. A plugin names only files inside its
 * own folder (brainzoo's own plugins/ alone may name the package's fixtures/<id>/), so the
 * fixtures (and the files beside them: a diffusion UNet's VAE and prompt) go to
 * dst/onnx/ and each variant's "onnx" names them there. Returns the manifest as written.
 */
export function bundledPluginCopy(sourceId: string, dst: string): PluginManifest {
  cpSync(join(packageRoot(), 'plugins', sourceId), dst, { recursive: true });
  const fixtures = join(packageRoot(), 'fixtures', sourceId);
  if (existsSync(fixtures)) cpSync(fixtures, join(dst, COPIED_FIXTURES), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dst, 'plugin.json'), 'utf8')) as PluginManifest;
  for (const v of manifest.variants) if (v.onnx) v.onnx = `${COPIED_FIXTURES}/${basename(v.onnx)}`;
  writeFileSync(join(dst, 'plugin.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

/**
 * Copies a bundled plugin into a temp plugins folder under a new id, with an edit applied to
 * its manifest (bad-input tests); its fixtures are copied with it (bundledPluginCopy).
 */
export function pluginVariantCopy(sourceId: string, newId: string, edit: (m: PluginManifest) => void, root = tempDir('plugins')): string {
  const dst = join(root, newId);
  const manifest = bundledPluginCopy(sourceId, dst);
  manifest.id = newId;
  edit(manifest);
  writeFileSync(join(dst, 'plugin.json'), JSON.stringify(manifest, null, 2));
  return root;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
