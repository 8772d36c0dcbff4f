/**
 * The `zoo` program: builds the commander tree and runs it, returning an exit code.
 * Heavy modules (onnxruntime, sharp) load with the command that needs them.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asZooError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { EXIT_ERROR, EXIT_OK, type CliIo, type CommandContext } from './io.js';

export function harnessVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx: CommandContext = { io, argv, exitCode: EXIT_OK };
  const program = new Command('zoo')
    .description('brainzoo: map vision backbones onto the visual cortex (FactorTopy) and publish leaderboards')
    .version(harnessVersion())
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError('(run zoo --help for usage)');
  const { registerPlugins } = await import('./commands/plugins.js');
  const { registerExtract } = await import('./commands/extract.js');
  const { registerExport } = await import('./commands/export.js');
  const { registerBench } = await import('./commands/bench.js');
  const { registerSynth } = await import('./commands/synth.js');
  const { registerFit } = await import('./commands/fit.js');
  const { registerPredict } = await import('./commands/predict.js');
  const { registerDraw } = await import('./commands/draw.js');
  const { registerPublish } = await import('./commands/publish.js');
  const { registerReport } = await import('./commands/report.js');
  const { registerCheck } = await import('./commands/check.js');
  const { registerChannels } = await import('./commands/channels.js');
  registerPlugins(program, ctx);
  registerExtract(program, ctx);
  registerExport(program, ctx);
  registerSynth(program, ctx);
  registerFit(program, ctx);
  registerPredict(program, ctx);
  registerDraw(program, ctx);
  registerChannels(program, ctx);
  registerPublish(program, ctx);
  registerReport(program, ctx);
  registerCheck(program, ctx);
  registerBench(program, ctx);
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(['node', 'zoo', ...argv]);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? EXIT_OK : EXIT_ERROR;
    }
    const zoo = asZooError(err);
    if (zoo) {
      io.err(zoo.format());
      return EXIT_ERROR;
    }
    io.err(`internal error: ${(err as Error).stack ?? String(err)}\nplease report this with the command you ran`);
    return EXIT_ERROR;
  }
}
