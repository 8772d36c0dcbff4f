/**
 * Where a plugin's files may be, and where an export may write. A plugin is third-party
 * content: every path its manifest names (export.script, each variant's "onnx" and the files
 * its extractor reads beside it, a package's "brainzoo": {"plugins": [...]}) must be relative
 * and lie inside the plugin's folder once symbolic links are resolved (realpath), so that
 * validating, testing, extracting or exporting a plugin never reads, runs or writes a file
 * elsewhere. The one exception is brainzoo's own bundled plugins (this package's plugins/<id>/),
 * whose tiny fixtures live in the package's fixtures/<id>/.
 *
 * `zoo export` writes its default target (no --out) only into the models folder or inside the
 * plugin's folders, and never over an existing file that is not an ONNX export of the variant
 * (its brainzoo.plugin / brainzoo.variant metadata, onnx-metadata.ts), wherever the target.
 */
import { closeSync, existsSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep, win32 } from 'node:path';
import { ZooError } from '../core/errors.js';
import { bundledPluginsDir, modelsDir, packageRoot } from '../core/paths.js';
import { readOnnxMetadata } from '../features/onnx-metadata.js';
import { findExtractor } from '../features/extractors/index.js';
import type { PluginManifest, ResolvedVariant } from './manifest.js';

/** The fix of every path that leaves the plugin folder. */
export const CONTAINED_FIX = 'name a file inside the plugin folder, relative to it (e.g. "export.py", "fixtures/tiny.onnx"), that is not a symbolic link out of it; a real variant\'s ONNX file needs no "onnx": it lives in the models folder (--models / $BRAINZOO_MODELS)';

/** Whether `p` is `root` or lies below it (both absolute, normalised). */
export function isInside(p: string, root: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * The real path of `p`, which need not exist: the deepest existing ancestor resolved (every
 * symbolic link on the way followed), the rest appended. Throws a Node error (ELOOP, EACCES).
 */
export function realPathOf(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    // a dangling link: realpath of its own target, else the parent's and the name
    const link = lstatOrUndefined(abs);
    if (link?.isSymbolicLink()) throw Object.assign(new Error(`dangling symbolic link ${abs}`), { code: 'EDANGLING' });
    const parent = dirname(abs);
    return parent === abs ? abs : join(realPathOf(parent), basename(abs));
  }
}

function lstatOrUndefined(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** The folders a plugin's files may be in, as named (resolved) and as real paths. */
export interface PluginRoots {
  named: string[];
  real: string[];
}

/** The plugin folder; for a plugin that brainzoo itself ships, also the package's fixtures/<id>/. */
export function pluginRoots(pluginDir: string): PluginRoots {
  const dir = resolve(pluginDir);
  const named = [dir];
  const realOr = (p: string): string => {
    try {
      return realPathOf(p);
    } catch {
      return p;
    }
  };
  const realDir = realOr(dir);
  if (dirname(realDir) === realOr(bundledPluginsDir())) named.push(join(packageRoot(), 'fixtures', basename(realDir)));
  return { named, real: [realDir, ...named.slice(1).map(realOr)] };
}

/** Why a path is not one a plugin may use (undefined: it may). */
export type Containment = { ok: true; path: string } | { ok: false; message: string };

/**
 * Whether `named` (a path as plugin.json writes it, `what` = its field for the message) lies
 * inside the plugin's folders: relative, lexically inside, and inside after symbolic links.
 */
export function containNamed(pluginDir: string, named: string, what: string, roots = pluginRoots(pluginDir)): Containment {
  const quoted = `${what} ${JSON.stringify(named)}`;
  if (named.trim() === '') return { ok: false, message: `${quoted} names no file` };
  if (isAbsolute(named) || win32.isAbsolute(named)) return { ok: false, message: `${quoted} is an absolute path; a plugin names its files relative to its folder` };
  const abs = resolve(pluginDir, named);
  if (!roots.named.some((r) => isInside(abs, r))) return { ok: false, message: `${quoted} leaves the plugin folder (it is ${abs})` };
  return containResolved(abs, quoted, roots);
}

/** Whether `abs` (a path the harness derived from a named one, e.g. a file beside the ONNX) stays inside after symbolic links. */
export function containResolved(abs: string, quoted: string, roots: PluginRoots): Containment {
  let real: string;
  try {
    real = realPathOf(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { ok: false, message: `${quoted} is a symbolic-link loop (${abs})` };
    if (code === 'EDANGLING') return { ok: false, message: `${quoted} is a symbolic link to nothing (${abs})` };
    return { ok: false, message: `${quoted} cannot be resolved: ${code ?? String(err)} (${abs})` };
  }
  if (!roots.real.some((r) => isInside(real, r))) return { ok: false, message: `${quoted} leads through a symbolic link to ${real}, outside the plugin folder` };
  return { ok: true, path: abs };
}

/** A manifest path problem (JSON path, message, fix); `escapes` marks it as one that commands refuse. */
export interface PathProblem {
  path: string;
  message: string;
  fix: string;
  escapes: true;
}

/**
 * Every path a manifest names, checked: export.script, each variant's "onnx", and the files
 * its extractor reads beside that ONNX (a diffusion UNet's VAE and prompt).
 */
export function manifestPathProblems(m: PluginManifest, pluginDir: string): PathProblem[] {
  const roots = pluginRoots(pluginDir);
  const out: PathProblem[] = [];
  const problem = (path: string, message: string): void => {
    out.push({ path, message, fix: CONTAINED_FIX, escapes: true });
  };
  const script = containNamed(pluginDir, m.export.script, 'export.script', roots);
  if (!script.ok) problem('/export/script', script.message);
  m.variants.forEach((v, i) => {
    if (v.onnx === undefined) return;
    const at = `/variants/${i}/onnx`;
    const onnx = containNamed(pluginDir, v.onnx, 'onnx', roots);
    if (!onnx.ok) {
      problem(at, onnx.message);
      return;
    }
    const source = v.finetune ? m.variants.find((o) => o.name === v.finetune?.from) : undefined;
    const kind = v.extractor?.kind ?? source?.extractor?.kind ?? m.extractor?.kind ?? 'forward';
    for (const side of findExtractor(kind)?.sideFiles({ onnxPath: onnx.path }) ?? []) {
      const rel = relative(resolve(pluginDir), side);
      const checked = containResolved(side, `the file beside it, ${rel},`, roots);
      if (!checked.ok) problem(at, checked.message);
    }
  });
  return out;
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

function startsWithNpyMagic(file: string): boolean {
  const buf = Buffer.alloc(NPY_MAGIC.length);
  const fd = openSync(file, 'r');
  try {
    return readSync(fd, buf, 0, buf.length, 0) === buf.length && buf.equals(NPY_MAGIC);
  } finally {
    closeSync(fd);
  }
}

export interface ExportTarget {
  variant: ResolvedVariant;
  manifest: PluginManifest;
  pluginDir: string;
  /** The ONNX file the export writes. */
  out: string;
  /** Whether the user chose it (--out); otherwise it is the variant's own path. */
  chosen: boolean;
  /** --models (default $BRAINZOO_MODELS or ~/.cache/brainzoo/models). */
  models?: string;
}

/**
 * Refuses an export target that is not brainzoo's to write (throws ZooError): the variant's own
 * target must lie in the models folder or inside the plugin's folders (after symbolic links);
 * and whatever the target, a file already there, or beside it where the exporter writes too (a
 * diffusion UNet's PATH.vae.onnx and PATH.prompt.npy, external weights PATH.onnx.data), must be
 * an export of this variant, or of another variant of the plugin that declares the same file.
 */
export function checkExportTarget(t: ExportTarget): void {
  const v = t.variant;
  const label = `${v.pluginId}/${v.name}`;
  if (!t.chosen) {
    const models = modelsDir(t.models);
    const roots = pluginRoots(t.pluginDir);
    const inModels = isInside(resolve(t.out), models) && containResolved(t.out, 'the export target', { named: [models], real: [safeReal(models)] }).ok;
    const inPlugin = containResolved(t.out, 'the export target', roots).ok && roots.named.some((r) => isInside(resolve(t.out), r));
    if (!inModels && !inPlugin) {
      throw new ZooError('E_PLUGIN_MANIFEST', `the export target of ${label}, ${t.out}, is neither in the models folder (${models}) nor inside the plugin folder`, {
        file: v.manifestPath,
        fix: `${CONTAINED_FIX}; or choose the file with --out FILE.onnx`,
      });
    }
  }
  // Variants that share this file (one diffusion UNet read at several time steps): an export of any of them is theirs.
  const sharing = new Set([v.name, ...t.manifest.variants.filter((o) => o.onnx !== undefined && resolve(t.pluginDir, o.onnx) === v.onnxPath).map((o) => o.name)]);
  const ours = (file: string): string | undefined => {
    const meta = readOnnxMetadata(file);
    const plugin = meta['brainzoo.plugin'];
    const variant = meta['brainzoo.variant'];
    if (plugin === v.pluginId && variant !== undefined && sharing.has(variant)) return undefined;
    return plugin === undefined ? 'no brainzoo metadata: not an ONNX export' : `its brainzoo metadata names ${plugin}/${variant ?? '?'}`;
  };
  const refuse = (file: string, why: string): never => {
    throw new ZooError('E_IO', `${file} exists and is not an ONNX export of ${label} (${why}); exporting would overwrite it`, {
      file,
      fix: `remove it if you do not need it, or export elsewhere with --out FILE.onnx`,
    });
  };
  const kind = v.extractor.kind;
  const sides = findExtractor(kind)?.sideFiles({ onnxPath: t.out }) ?? [];
  const outExists = existsSync(t.out);
  for (const file of [t.out, ...sides, `${t.out}.data`]) {
    if (!existsSync(file) && !lstatOrUndefined(file)) continue;
    let isDir = false;
    try {
      isDir = statSync(file).isDirectory();
    } catch {
      refuse(file, 'a symbolic link that cannot be followed');
    }
    if (isDir) refuse(file, 'a folder');
    if (file.endsWith('.onnx')) {
      const why = ours(file);
      if (why) refuse(file, why);
    } else if (file.endsWith('.npy')) {
      if (!startsWithNpyMagic(file)) refuse(file, 'not a .npy file');
    } else if (!outExists) refuse(file, `external weights without their ONNX file ${basename(t.out)}`);
  }
}

function safeReal(p: string): string {
  try {
    return realPathOf(p);
  } catch {
    return resolve(p);
  }
}
