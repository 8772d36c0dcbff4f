/** Options that every command touching backbones shares, declared once. */
import type { Command } from 'commander';

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
