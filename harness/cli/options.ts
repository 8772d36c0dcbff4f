/** Options that every command touching backbones shares, declared once. */
import type { Command } from 'commander';
import { PluginRegistry } from '../plugins/registry.js';
import { ZooError } from '../core/errors.js';
import { GRID_RESIZES, type GridResize } from '../features/resize.js';
import type { CommandContext } from './io.js';

export interface RuntimeOptions {
  device?: string;
  cache?: string;
  models?: string;
  plugins?: string[];
  quiet?: boolean;
  gridResize?: string;
}

export function addRuntimeOptions(cmd: Command): Command {
  return cmd
    .option('--device <device>', 'cpu | webgpu | cuda', 'cpu')
    .option('--cache <dir>', 'feature cache folder (default: $BRAINZOO_CACHE or ~/.cache/brainzoo/features)')
    .option('--models <dir>', 'exported ONNX folder (default: $BRAINZOO_MODELS or ~/.cache/brainzoo/models)')
    .option('--plugins <dirs...>', 'extra plugin folders')
    .option('--quiet', 'no progress bars')
    .option('--grid-resize <how>', 'layer grids to G×G: bilinear (the authors\', default) | area (mean over each cell: every token counts; for large grids)');
}

/** --grid-resize, checked. */
export function parseGridResize(value: string | undefined): GridResize {
  const v = value ?? 'bilinear';
  if ((GRID_RESIZES as readonly string[]).includes(v)) return v as GridResize;
  throw new ZooError('E_ARGS', `unknown --grid-resize "${value}"`, { found: value, fix: `use --grid-resize ${GRID_RESIZES.join(' | ')}` });
}

/** The plugin registry as a command sees it: discovery from the command's working directory, notes on stderr. */
export function commandRegistry(ctx: CommandContext, opts: { plugins?: string[]; models?: string }): PluginRegistry {
  return new PluginRegistry({ extraDirs: opts.plugins, models: opts.models, cwd: ctx.io.cwd, log: (line) => ctx.io.err(line) });
}
