/**
 * `zoo plugins new NAME`: a plugin folder whose manifest validates from the first minute (the
 * tiny fixture it names is written by its export.py; until then validate says so) — a manifest
 * for a ViT-style backbone with one real variant and the bundled tiny variant, and an
 * export.py built on the shared exporter library (plugins/_lib/brainzoo_export).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ZooError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { PluginManifest } from './manifest.js';

export function scaffoldPlugin(parent: string, name: string, opts: { family?: string } = {}): string {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new ZooError('E_ARGS', `plugin name "${name}" is not valid`, { fix: 'use lower-case letters, digits and dashes, starting with a letter (e.g. my-vit)' });
  }
  const dir = join(parent, name);
  if (existsSync(dir)) throw new ZooError('E_ARGS', `${dir} already exists`, { file: dir, fix: 'choose another name or remove the folder' });
  mkdirSync(dir, { recursive: true });
  const fixtureRel = relative(dir, join(packageRoot(), 'fixtures', name, 'tiny.onnx'));
  const manifest: PluginManifest = {
    $schema: relative(dir, join(packageRoot(), 'schemas', 'plugin.schema.json')),
    id: name,
    family: opts.family ?? name,
    version: '0.1.0',
    description: 'TODO: one line on what this backbone is and how it was trained.',
    paper: { title: 'TODO: paper title', authors: 'TODO', year: new Date().getFullYear(), url: 'TODO' },
    export: { script: 'export.py', opset: 17 },
    selectionAxis: 'layers',
    preprocess: { resolution: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'center-crop', interpolation: 'bicubic' },
    tokenLayout: { format: 'NLC', cls: true, registers: 0, grid: [14, 14] },
    defaultVariant: 'vit-b-16',
    variants: [
      {
        name: 'vit-b-16',
        size: 'B',
        trainingData: 'TODO',
        arch: { img_size: 224, patch_size: 16, embed_dim: 768, depth: 12, num_heads: 12, mlp_ratio: 4 },
        checkpoint: { url: 'TODO: where users download the official weights', key: 'model' },
        layers: { count: 12, name: 'blocks.{i}', output: 'block_{i}', channels: 768 },
      },
      {
        name: 'tiny',
        size: 'tiny',
        description: 'Random-initialised miniature for tests and default runs.',
        bundled: true,
        seed: 0,
        onnx: fixtureRel,
        arch: { img_size: 64, patch_size: 8, embed_dim: 48, depth: 6, num_heads: 2, mlp_ratio: 2 },
        preprocess: { resolution: 64 },
        tokenLayout: { format: 'NLC', cls: true, registers: 0, grid: [8, 8] },
        layers: { count: 6, name: 'blocks.{i}', output: 'block_{i}', channels: 48 },
      },
    ],
  };
  writeFileSync(join(dir, 'plugin.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, 'export.py'), EXPORT_TEMPLATE);
  return dir;
}

const EXPORT_TEMPLATE = `#!/usr/bin/env python3
"""Exporter for this plugin: builds the backbone in plain PyTorch with the official parameter
names, loads the official checkpoint (--checkpoint) or random-inits it (--random-init), and
writes an ONNX file whose outputs are every block's tokens (see plugins/README.md).

Replace the model below with the real architecture; keep the official parameter names so that
the released checkpoint loads strictly.
"""
import os
import sys

# The shared exporter library ships with brainzoo (plugins/_lib); BRAINZOO_PYLIB points at it
# when zoo runs this script.
sys.path.insert(0, os.environ.get("BRAINZOO_PYLIB") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_lib"))

from brainzoo_export.vit import build_timm_vit  # noqa: E402
from brainzoo_export.cli import run_exporter  # noqa: E402


def build(arch):
    """Returns an nn.Module with forward_blocks(pixel_values) -> [block outputs]."""
    return build_timm_vit(**arch)


if __name__ == "__main__":
    sys.exit(run_exporter(__file__, build))
`;
