/**
 * The plugin registry: one map from id to plugin, filled by discovery in a fixed order
 *   1. bundled plugins/<id>/            (this package)
 *   2. extra folders: --plugins DIR, $BRAINZOO_PLUGINS (path-separated)
 *   3. npm packages in node_modules whose package.json has the keyword "brainzoo-plugin"
 *      (plugin.json at the package root, or folders listed in "brainzoo": {"plugins": [...]})
 * Folders are walked in sorted order. A broken plugin is kept, with its problems, so that
 * `zoo plugins list` shows it instead of silently skipping it; the same id from two sources is
 * an error naming both.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { ZooError, suggest } from '../core/errors.js';
import { bundledPluginsDir, packageRoot } from '../core/paths.js';
import type { PluginManifest, ResolvedVariant } from './manifest.js';
import { checkManifestFile, resolveVariant, type ManifestProblem } from './validate.js';

export type PluginSource = 'bundled' | 'folder' | 'npm';

export interface PluginEntry {
  id: string;
  dir: string;
  manifestPath: string;
  source: PluginSource;
  /** Present when the manifest passed both checks. */
  manifest?: PluginManifest;
  problems: ManifestProblem[];
}

export interface RegistryOptions {
  /** Extra plugin folders (each either a plugin or a folder of plugins). */
  extraDirs?: string[];
  /** node_modules to scan for npm plugins (default: <cwd>/node_modules and the package's own). */
  nodeModulesDirs?: string[];
  models?: string;
}

function isPluginDir(dir: string): boolean {
  return existsSync(join(dir, 'plugin.json'));
}

function subdirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.') && !n.startsWith('_'))
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isDirectory());
}

function npmPluginDirs(nodeModules: string): string[] {
  const found: string[] = [];
  const packages = subdirs(nodeModules).flatMap((p) => (p.split(/[\\/]/).pop()?.startsWith('@') ? subdirs(p) : [p]));
  for (const pkgDir of packages) {
    const pkgJson = join(pkgDir, 'package.json');
    if (!existsSync(pkgJson)) continue;
    let pkg: { keywords?: unknown; brainzoo?: { plugins?: unknown } };
    try {
      pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as typeof pkg;
    } catch {
      continue;
    }
    if (!Array.isArray(pkg.keywords) || !pkg.keywords.includes('brainzoo-plugin')) continue;
    const listed = Array.isArray(pkg.brainzoo?.plugins) ? (pkg.brainzoo?.plugins as unknown[]).map(String) : [];
    if (listed.length) found.push(...listed.map((rel) => resolve(pkgDir, rel)));
    else found.push(pkgDir);
  }
  return found;
}

export class PluginRegistry {
  private readonly entries = new Map<string, PluginEntry>();

  constructor(private readonly options: RegistryOptions = {}) {
    const add = (dir: string, source: PluginSource): void => {
      const manifestPath = join(dir, 'plugin.json');
      const check = checkManifestFile(manifestPath);
      const rawId = check.manifest?.id ?? readIdLoosely(manifestPath) ?? dir.split(/[\\/]/).pop() ?? dir;
      const prior = this.entries.get(rawId);
      if (prior) {
        throw new ZooError('E_PLUGIN_DUPLICATE', `plugin id "${rawId}" is declared twice`, {
          file: manifestPath,
          found: { first: prior.manifestPath, second: manifestPath },
          fix: 'rename one of the plugins (its folder and "id"), or remove the duplicate source',
        });
      }
      this.entries.set(rawId, { id: rawId, dir, manifestPath, source, manifest: check.problems.length ? undefined : check.manifest, problems: check.problems });
    };
    for (const dir of subdirs(bundledPluginsDir())) if (isPluginDir(dir)) add(dir, 'bundled');
    const extra = [...(options.extraDirs ?? []), ...(process.env.BRAINZOO_PLUGINS?.split(delimiter).filter(Boolean) ?? [])];
    for (const root of extra) {
      const abs = resolve(root);
      if (!existsSync(abs)) throw new ZooError('E_ARGS', `plugin folder ${abs} does not exist`, { file: abs, fix: 'check --plugins / $BRAINZOO_PLUGINS' });
      // a folder that is already registered (a bundled plugin named by its path) is not a second source
      for (const dir of isPluginDir(abs) ? [abs] : subdirs(abs).filter(isPluginDir)) if (!this.hasDir(dir)) add(dir, 'folder');
    }
    const nm = options.nodeModulesDirs ?? [...new Set([join(process.cwd(), 'node_modules'), join(packageRoot(), 'node_modules')])];
    for (const modules of nm) for (const dir of npmPluginDirs(modules)) if (isPluginDir(dir) && !this.hasDir(dir)) add(dir, 'npm');
  }

  private hasDir(dir: string): boolean {
    return [...this.entries.values()].some((e) => resolve(e.dir) === resolve(dir));
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
      const first = entry.problems[0];
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
    const id = (JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown }).id;
    return typeof id === 'string' && id ? id : undefined;
  } catch {
    return undefined;
  }
}
