/** Options that every command touching backbones shares, declared once. */
import type { Command } from 'commander';
import { PluginRegistry } from '../plugins/registry.js';
import type { CommandContext } from './io.js';

export interface RuntimeOptions {
  device?: string;
  cache?: string;
  models?: string;
  plugins?: string[];
  quiet?: boolean;
}

export function addRuntimeOptions(cmd: Command): Command {
  return cmd
    .option('--device <device>', 'cpu | webgpu | cuda', 'cpu')
    .option('--cache <dir>', 'feature cache folder (default: $BRAINZOO_CACHE or ~/.cache/brainzoo/features)')
    .option('--models <dir>', 'exported ONNX folder (default: $BRAINZOO_MODELS or ~/.cache/brainzoo/models)')
    .option('--plugins <dirs...>', 'extra plugin folders')
    .option('--quiet', 'no progress bars');
}

/** The plugin registry as a command sees it: discovery from the command's working directory, notes on stderr. */
export function commandRegistry(ctx: CommandContext, opts: { plugins?: string[]; models?: string }): PluginRegistry {
  return new PluginRegistry({ extraDirs: opts.plugins, models: opts.models, cwd: ctx.io.cwd, log: (line) => ctx.io.err(line) });
}
