/** zoo plugins list | validate PATH | new NAME */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { ZooError } from '../../core/errors.js';
import { bundledPluginsDir } from '../../core/paths.js';
import { PluginRegistry } from '../../plugins/registry.js';
import { checkManifestFile, expandLayers } from '../../plugins/validate.js';
import { scaffoldPlugin } from '../../plugins/scaffold.js';
import { EXIT_PROBLEMS, type CommandContext } from '../io.js';

export function registerPlugins(program: Command, ctx: CommandContext): void {
  const plugins = program.command('plugins').description('list, validate and create backbone plugins');

  plugins
    .command('list')
    .description('list every plugin (broken ones too, with their reason)')
    .option('--json', 'machine-readable output')
    .option('--plugins <dirs...>', 'extra plugin folders')
    .action((opts: { json?: boolean; plugins?: string[] }) => {
      const registry = new PluginRegistry({ extraDirs: opts.plugins });
      const rows = registry.list().map((e) => ({
        id: e.id,
        family: e.manifest?.family ?? null,
        version: e.manifest?.version ?? null,
        source: e.source,
        dir: e.dir,
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
    .description('check a manifest against the schema and its meaning; lists every problem with its JSON path')
    .option('--json', 'machine-readable output')
    .action((path: string, opts: { json?: boolean }) => {
      const file = manifestFileOf(resolve(ctx.io.cwd, path));
      const check = checkManifestFile(file);
      if (opts.json) ctx.io.out(JSON.stringify({ file, valid: check.problems.length === 0, problems: check.problems }, null, 2));
      else if (check.problems.length === 0) ctx.io.out(`${file}: valid (${check.manifest?.variants.length} variants)`);
      else {
        ctx.io.out(`${file}: ${check.problems.length} problem${check.problems.length > 1 ? 's' : ''}`);
        for (const p of check.problems) ctx.io.out(`  ${p.path}: ${p.message}${p.fix ? `\n      fix: ${p.fix}` : ''}`);
      }
      if (check.problems.length) ctx.exitCode = EXIT_PROBLEMS;
    });

  plugins
    .command('new')
    .argument('<name>', 'plugin id (lower-case, digits, dashes)')
    .option('--dir <dir>', 'where to create it (default: the bundled plugins/ folder)')
    .option('--family <family>', 'display family')
    .description('scaffold a plugin folder (plugin.json + export.py) that validates')
    .action((name: string, opts: { dir?: string; family?: string }) => {
      const parent = resolve(ctx.io.cwd, opts.dir ?? bundledPluginsDir());
      const dir = scaffoldPlugin(parent, name, { family: opts.family });
      ctx.io.out(`created ${dir}\nnext: edit plugin.json and export.py, then run\n  zoo plugins validate ${dir}\n  /usr/bin/python3 ${join(dir, 'export.py')} --tiny --random-init`);
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
