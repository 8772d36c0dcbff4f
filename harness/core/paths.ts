/** Where the package, its bundled plugins and fixtures, and the user's caches live. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The brainzoo package root (the folder with package.json), from source or from dist/. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'brainzoo') return (cachedRoot = dir);
      } catch {
        /* keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('brainzoo package root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const bundledPluginsDir = (): string => join(packageRoot(), 'plugins');
export const bundledDatasetDir = (): string => join(packageRoot(), 'fixtures', 'synthetic');
export const schemaPath = (name: string): string => join(packageRoot(), 'schemas', name);

/** Exported real-checkpoint ONNX files: --models, $BRAINZOO_MODELS, or ~/.cache/brainzoo/models. */
export function modelsDir(override?: string): string {
  return resolve(override ?? process.env.BRAINZOO_MODELS ?? join(homedir(), '.cache', 'brainzoo', 'models'));
}

/** Feature cache: --cache, $BRAINZOO_CACHE, or ~/.cache/brainzoo/features. */
export function cacheDir(override?: string): string {
  return resolve(override ?? process.env.BRAINZOO_CACHE ?? join(homedir(), '.cache', 'brainzoo', 'features'));
}

/** Debian's python has torch/onnx; a pyenv or venv python on PATH may not. */
export function pythonExecutable(): string {
  if (process.env.BRAINZOO_PYTHON) return process.env.BRAINZOO_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}
