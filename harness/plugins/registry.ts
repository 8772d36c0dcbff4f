/**
 * The plugin registry: one map from id to plugin, filled by discovery from three sources, the
 * more specific first:
 *   1. extra folders: --plugins DIR, $BRAINZOO_PLUGINS (path-separated), relative to the cwd
 *   2. npm packages whose package.json has the keyword "brainzoo-plugin" (plugin.json at the
 *      package root, or folders listed in "brainzoo": {"plugins": [...]}), in every node_modules
 *      folder from the cwd up to the file-system root, nearest first (as Node resolves modules),
 *      then those above the brainzoo package itself
 *   3. bundled plugins/<id>/            (this package)
 * Folders are walked in sorted order. A broken plugin is kept, with its problems, so that
 * `zoo plugins list` shows it instead of silently skipping it. The same id from a more specific
 * source shadows the other copy (a local checkout of an installed plugin wins), with a note that
 * names both; the same id twice within one source (two --plugins folders, one node_modules) is
 * an error naming both.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ZooError, suggest } from '../core/errors.js';
import { bundledPluginsDir, packageRoot } from '../core/paths.js';
import { parseJsonText } from '../core/json.js';
import { MANIFEST_LIMITS, type PluginManifest, type ResolvedVariant } from './manifest.js';
import { checkManifestFile, resolveVariant, type ManifestCheck, type ManifestProblem } from './validate.js';
import { containResolved, isInside, realPathOf } from './containment.js';

export type PluginSource = 'bundled' | 'folder' | 'npm';

export interface PluginEntry {
  id: string;
  dir: string;
  manifestPath: string;
  source: PluginSource;
  /** Present when the manifest passed both checks. */
  manifest?: PluginManifest;
  problems: ManifestProblem[];
  /** Copies of the same id from less specific sources, which this one hides. */
  shadows: { dir: string; source: PluginSource }[];
}

export interface RegistryOptions {
  /** Extra plugin folders (each either a plugin or a folder of plugins), relative to `cwd`. */
  extraDirs?: string[];
  /** node_modules to scan for npm plugins, nearest first (default: every node_modules from `cwd` up, then above the package). */
  nodeModulesDirs?: string[];
  models?: string;
  /** Where discovery starts (default: the process's working directory). */
  cwd?: string;
  /** Receives notes, e.g. which copy of a plugin shadows which. */
  log?: (line: string) => void;
}

const SOURCE_NAME: Record<PluginSource, string> = { folder: '--plugins / $BRAINZOO_PLUGINS', npm: 'npm package', bundled: 'bundled' };

/** Every existing node_modules folder from `start` up to the file-system root, nearest first (Node's lookup order). */
export function ancestorNodeModules(start: string): string[] {
  const out: string[] = [];
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const nm = join(dir, 'node_modules');
    if (basename(dir) !== 'node_modules' && existsSync(nm)) out.push(nm);
    if (dirname(dir) === dir) return out;
  }
}

/** Whether a folder holds a plugin.json (also one that cannot be read, e.g. a symbolic-link loop: its check says why). */
function isPluginDir(dir: string): boolean {
  return lstatOrUndefined(join(dir, 'plugin.json')) !== undefined;
}

function lstatOrUndefined(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** An entry of a plugins folder that is not a readable folder: a symbolic-link loop or a link to nothing. */
interface BrokenEntry {
  path: string;
  reason: string;
}

/**
 * The folders in `dir`, sorted; entries that cannot be followed (a symbolic-link loop, a
 * dangling link) go to `broken` when given, else are passed over (node_modules: not plugins).
 */
function subdirs(dir: string, broken?: BrokenEntry[]): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).filter((n) => !n.startsWith('.') && !n.startsWith('_')).sort()) {
    const p = join(dir, name);
    try {
      if (statSync(p).isDirectory()) out.push(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      broken?.push({ path: p, reason: code === 'ELOOP' ? `${p} is a symbolic-link loop (ELOOP)` : code === 'ENOENT' ? `${p} is a symbolic link to nothing (ENOENT)` : `${p} cannot be read (${code ?? String(err)})` });
    }
  }
  return out;
}

/** Whether following `p` loops (a chain of symbolic links that comes back to itself). */
export function isSymlinkLoop(p: string): boolean {
  try {
    statSync(p);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ELOOP';
  }
}

/** A plugin folder a package lists (or the package itself); `refused`: listed outside the package. */
interface ListedDir {
  dir: string;
  refused?: { manifestPath: string; problem: ManifestProblem };
}

/**
 * The plugin folders a package's "brainzoo": {"plugins": [...]} lists, each inside the package
 * (after symbolic links): a listed folder elsewhere is refused with the problem to report.
 */
export function listedPluginDirs(pkgDir: string, listed: readonly string[]): ListedDir[] {
  const pkgJson = join(pkgDir, 'package.json');
  const roots = { named: [resolve(pkgDir)], real: [safeRealPath(pkgDir)] };
  return listed.map((rel, i) => {
    const dir = resolve(pkgDir, rel);
    const named = isInside(dir, roots.named[0]) && !isAbsolute(rel) ? containResolved(dir, JSON.stringify(rel), roots) : { ok: false as const, message: `${JSON.stringify(rel)} leaves the package folder ${pkgDir}` };
    if (named.ok) return { dir };
    const message = named.message.replace('the plugin folder', `the package folder ${pkgDir}`);
    return { dir, refused: { manifestPath: pkgJson, problem: { path: `/brainzoo/plugins/${i}`, message, fix: 'list plugin folders inside the package, relative to its package.json', escapes: true } } };
  });
}

function safeRealPath(p: string): string {
  try {
    return realPathOf(p);
  } catch {
    return resolve(p);
  }
}

function npmPluginDirs(nodeModules: string): ListedDir[] {
  const found: ListedDir[] = [];
  const packages = subdirs(nodeModules).flatMap((p) => (p.split(/[\\/]/).pop()?.startsWith('@') ? subdirs(p) : [p]));
  for (const pkgDir of packages) {
    const pkgJson = join(pkgDir, 'package.json');
    if (!existsSync(pkgJson)) continue;
    let pkg: { keywords?: unknown; brainzoo?: { plugins?: unknown } };
    try {
      pkg = parseJsonText(readFileSync(pkgJson, 'utf8'), MANIFEST_LIMITS.depth) as typeof pkg;
    } catch {
      continue;
    }
    if (!Array.isArray(pkg.keywords) || !pkg.keywords.includes('brainzoo-plugin')) continue;
    const listed = Array.isArray(pkg.brainzoo?.plugins) ? (pkg.brainzoo?.plugins as unknown[]).map(String) : [];
    if (listed.length) found.push(...listedPluginDirs(pkgDir, listed));
    else found.push({ dir: pkgDir });
  }
  return found;
}

export class PluginRegistry {
  private readonly entries = new Map<string, PluginEntry>();
  /** Which source level (or node_modules folder) each id came from: a second copy there is ambiguous. */
  private readonly scopes = new Map<string, string>();

  constructor(private readonly options: RegistryOptions = {}) {
    const cwd = options.cwd ?? process.cwd();
    // Most specific first: a later copy of a known id is shadowed, never replaces it.
    const add = (dir: string, source: PluginSource, scope: string, refused?: ListedDir['refused']): void => {
      // refused: a folder its package lists outside itself, or an entry that cannot be followed
      const manifestPath = refused?.manifestPath ?? join(dir, 'plugin.json');
      const check: ManifestCheck = refused ? { file: manifestPath, problems: [refused.problem] } : checkManifestFile(manifestPath);
      const rawId = check.manifest?.id ?? (refused ? undefined : readIdLoosely(manifestPath)) ?? dir.split(/[\\/]/).pop() ?? dir;
      const prior = this.entries.get(rawId);
      if (prior && resolve(prior.dir) === resolve(dir)) return;
      if (prior && this.scopes.get(rawId) === scope) {
        throw new ZooError('E_PLUGIN_DUPLICATE', `plugin id "${rawId}" is declared twice in ${scope}`, {
          file: manifestPath,
          found: { first: prior.manifestPath, second: manifestPath },
          fix: 'rename one of the plugins (its folder and "id"), or remove the duplicate',
        });
      }
      if (prior) {
        prior.shadows.push({ dir, source });
        options.log?.(`note: plugin "${rawId}" comes from ${prior.dir} (${SOURCE_NAME[prior.source]}); it shadows ${dir} (${SOURCE_NAME[source]})`);
        return;
      }
      this.scopes.set(rawId, scope);
      this.entries.set(rawId, { id: rawId, dir, manifestPath, source, manifest: check.problems.length ? undefined : check.manifest, problems: check.problems, shadows: [] });
    };
    const extra = [...(options.extraDirs ?? []), ...(process.env.BRAINZOO_PLUGINS?.split(delimiter).filter(Boolean) ?? [])];
    for (const root of extra) {
      const abs = resolve(cwd, root);
      if (isSymlinkLoop(abs)) throw new ZooError('E_ARGS', `plugin folder ${abs} is a symbolic-link loop`, { file: abs, fix: 'point --plugins / $BRAINZOO_PLUGINS at a real folder (ls -l shows where each link leads)' });
      if (!existsSync(abs)) throw new ZooError('E_ARGS', `plugin folder ${abs} does not exist`, { file: abs, fix: 'check --plugins / $BRAINZOO_PLUGINS' });
      const broken: BrokenEntry[] = [];
      const scope = 'the --plugins / $BRAINZOO_PLUGINS folders';
      for (const dir of isPluginDir(abs) ? [abs] : subdirs(abs, broken).filter(isPluginDir)) add(dir, 'folder', scope);
      for (const b of broken) {
        add(b.path, 'folder', scope, { manifestPath: b.path, problem: { path: '/', message: b.reason, fix: 'remove the link, or point it at a plugin folder (ls -l shows where it leads)' } });
      }
    }
    const nm = options.nodeModulesDirs ?? [...new Set([...ancestorNodeModules(cwd), ...ancestorNodeModules(packageRoot())])];
    for (const modules of nm) {
      for (const { dir, refused } of npmPluginDirs(modules)) {
        if (refused) add(dir, 'npm', modules, refused);
        else if (isPluginDir(dir)) add(dir, 'npm', modules);
      }
    }
    for (const dir of subdirs(bundledPluginsDir())) if (isPluginDir(dir)) add(dir, 'bundled', 'the bundled plugins/');
  }

  /** All plugins, natural sort by id, broken ones included. */
  list(): PluginEntry[] {
    return [...this.entries.values()].sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  }

  ids(): string[] {
    return this.list().map((e) => e.id);
  }

  get(id: string): PluginEntry & { manifest: PluginManifest } {
    const entry = this.entries.get(id);
    if (!entry) throw new ZooError('E_PLUGIN_UNKNOWN', `unknown plugin "${id}"`, { fix: suggest(id, this.ids()) });
    if (!entry.manifest) {
      // a path that leaves the plugin folder is the reason the plugin is refused: name it first
      const first = entry.problems.find((p) => p.escapes) ?? entry.problems[0];
      throw new ZooError('E_PLUGIN_MANIFEST', `plugin "${id}" is broken: ${first.message}${entry.problems.length > 1 ? ` (and ${entry.problems.length - 1} more)` : ''}`, {
        file: entry.manifestPath,
        path: first.path,
        fix: first.fix ?? `run: zoo plugins validate ${entry.dir}`,
      });
    }
    return entry as PluginEntry & { manifest: PluginManifest };
  }

  variant(id: string, variant?: string): ResolvedVariant {
    const entry = this.get(id);
    return resolveVariant(entry.manifest, entry.dir, variant, this.options.models);
  }

  /** Every variant of every healthy plugin; `bundledOnly` keeps the shipped tiny fixtures. */
  allVariants(filter: { bundledOnly?: boolean; plugins?: string[] } = {}): ResolvedVariant[] {
    const ids = filter.plugins?.length ? filter.plugins : this.list().filter((e) => e.manifest).map((e) => e.id);
    const out: ResolvedVariant[] = [];
    for (const id of ids) {
      const entry = this.get(id);
      for (const v of entry.manifest.variants) {
        if (filter.bundledOnly && !v.bundled) continue;
        out.push(resolveVariant(entry.manifest, entry.dir, v.name, this.options.models));
      }
    }
    return out;
  }
}

function readIdLoosely(file: string): string | undefined {
  try {
    if (statSync(file).size > MANIFEST_LIMITS.bytes) return undefined;
    const id = (parseJsonText(readFileSync(file, 'utf8'), MANIFEST_LIMITS.depth) as { id?: unknown } | null)?.id;
    return typeof id === 'string' && id ? id : undefined;
  } catch {
    return undefined;
  }
}
