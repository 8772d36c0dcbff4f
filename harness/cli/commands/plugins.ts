/** zoo plugins list | validate PATH | new NAME */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { ZooError } from '../../core/errors.js';
import { bundledPluginsDir } from '../../core/paths.js';
import { checkManifestFile, expandLayers } from '../../plugins/validate.js';
import { scaffoldPlugin } from '../../plugins/scaffold.js';
import type { VariantOnnxCheck } from '../../plugins/onnx-check.js';
import { EXIT_PROBLEMS, type CommandContext } from '../io.js';
import { commandRegistry } from '../options.js';

export function registerPlugins(program: Command, ctx: CommandContext): void {
  const plugins = program.command('plugins').description('list, validate and create backbone plugins');

  plugins
    .command('list')
    .description('list every plugin (broken ones too, with their reason)')
    .option('--json', 'machine-readable output')
    .option('--plugins <dirs...>', 'extra plugin folders')
    .action((opts: { json?: boolean; plugins?: string[] }) => {
      const registry = commandRegistry(ctx, { plugins: opts.plugins });
      const rows = registry.list().map((e) => ({
        id: e.id,
        family: e.manifest?.family ?? null,
        version: e.manifest?.version ?? null,
        source: e.source,
        dir: e.dir,
        shadows: e.shadows,
        status: e.manifest ? 'ok' : 'broken',
        selectionAxis: e.manifest?.selectionAxis ?? (e.manifest ? 'layers' : null),
        variants: e.manifest?.variants.map((v) => ({ name: v.name, size: v.size, bundled: Boolean(v.bundled), finetune: v.finetune?.dataset ?? null, layers: expandLayers(v.layers)?.length ?? null })) ?? [],
        problems: e.problems.map((p) => ({ path: p.path, message: p.message, fix: p.fix ?? null })),
      }));
      if (opts.json) {
        ctx.io.out(JSON.stringify(rows, null, 2));
        return;
      }
      const table = new Table({ head: ['plugin', 'family', 'version', 'variants', 'status'], style: { head: [], border: [] } });
      for (const r of rows) {
        table.push([r.id, r.family ?? '', r.version ?? '', r.variants.map((v) => v.name).join('\n'), r.status === 'ok' ? 'ok' : `BROKEN: ${r.problems[0]?.path} ${r.problems[0]?.message}`]);
      }
      ctx.io.out(table.toString());
      const broken = rows.filter((r) => r.status !== 'ok').length;
      ctx.io.out(`${rows.length} plugins${broken ? `, ${broken} broken (zoo plugins validate <dir> lists every problem)` : ''}`);
    });

  plugins
    .command('validate')
    .argument('<path>', 'plugin folder or its plugin.json')
    .description('check a manifest against the schema and its meaning, then against its ONNX files; lists every problem with its JSON path')
    .option('--json', 'machine-readable output')
    .option('--models <dir>', 'exported ONNX folder (default: $BRAINZOO_MODELS or ~/.cache/brainzoo/models)')
    .option('--no-onnx', 'skip the checks against the ONNX files (schema and meaning only)')
    .addHelpText('after', '\nExamples:\n  zoo plugins validate plugins/my-net\n  zoo plugins validate node_modules/brainzoo-plugin-resnet --models ~/models --json')
    .action(async (path: string, opts: { json?: boolean; models?: string; onnx: boolean }) => {
      const file = manifestFileOf(resolve(ctx.io.cwd, path));
      const check = checkManifestFile(file);
      const problems = [...check.problems];
      let onnx: VariantOnnxCheck[] | null = null;
      if (check.manifest && !problems.length && opts.onnx) {
        const { checkPluginOnnx } = await import('../../plugins/onnx-check.js');
        const result = await checkPluginOnnx(check.manifest, dirname(file), opts.models === undefined ? undefined : resolve(ctx.io.cwd, opts.models));
        problems.push(...result.problems);
        onnx = result.variants;
      }
      if (opts.json) ctx.io.out(JSON.stringify({ file, valid: problems.length === 0, problems, onnx }, null, 2));
      else {
        const byStatus = (status: string): string[] => (onnx ?? []).filter((v) => v.status === status).map((v) => v.variant);
        const onnxNote = !opts.onnx ? 'ONNX files not checked (--no-onnx)'
          : onnx === null ? 'ONNX files not checked: fix the manifest first'
          : `ONNX checked: ${byStatus('checked').join(', ') || 'none'}${byStatus('not exported').length ? `; not exported: ${byStatus('not exported').join(', ')}` : ''}`;
        if (problems.length === 0) ctx.io.out(`${file}: valid (${check.manifest?.variants.length} variants; ${onnxNote})`);
        else {
          ctx.io.out(`${file}: ${problems.length} problem${problems.length > 1 ? 's' : ''}`);
          for (const p of problems) ctx.io.out(`  ${p.path}: ${p.message}${p.fix ? `\n      fix: ${p.fix}` : ''}`);
          ctx.io.out(`  (${onnxNote})`);
        }
      }
      if (problems.length) ctx.exitCode = EXIT_PROBLEMS;
    });

  plugins
    .command('new')
    .argument('<name>', 'plugin id (lower-case, digits, dashes)')
    .option('--dir <dir>', 'where to create it (default: the bundled plugins/ folder)')
    .option('--family <family>', 'display family')
    .description('scaffold a plugin folder (plugin.json + export.py) whose manifest validates; export.py --tiny --random-init writes its fixture')
    .action((name: string, opts: { dir?: string; family?: string }) => {
      const parent = resolve(ctx.io.cwd, opts.dir ?? bundledPluginsDir());
      const dir = scaffoldPlugin(parent, name, { family: opts.family });
      ctx.io.out(`created ${dir}\nnext: edit plugin.json and export.py, then run\n  /usr/bin/python3 ${join(dir, 'export.py')} --tiny --random-init\n  zoo plugins validate ${dir}`);
    });
}


/** The plugin.json of a PATH given on the command line (a plugin folder or the file); a path that is neither is bad input. */
function manifestFileOf(abs: string): string {
  if (!existsSync(abs)) {
    throw new ZooError('E_ARGS', `plugin path ${abs} does not exist`, {
      file: abs,
      fix: 'pass a plugin folder (the one holding plugin.json) or its plugin.json; `zoo plugins list --json` shows where each plugin lives',
    });
  }
  const file = statSync(abs).isDirectory() ? join(abs, 'plugin.json') : abs;
  if (!existsSync(file)) {
    throw new ZooError('E_ARGS', `${abs} has no plugin.json`, { file: abs, fix: 'pass a plugin folder (the one holding plugin.json); `zoo plugins new NAME --dir DIR` makes one' });
  }
  return file;
}
