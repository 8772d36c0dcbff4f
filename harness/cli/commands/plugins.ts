/** zoo plugins list | validate PATH | test PATH|ID | new NAME */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import Table from 'cli-table3';
import { ZooError } from '../../core/errors.js';
import { parseDevice } from '../../features/session.js';
import type { CheckResult, ConformanceReport } from '../../plugins/conformance.js';
import { PluginRegistry, isSymlinkLoop, listedPluginDirs } from '../../plugins/registry.js';
import { parseJsonText } from '../../core/json.js';
import { checkManifestFile, expandLayers, resolvePlugin } from '../../plugins/validate.js';
import { MANIFEST_LIMITS, type ResolvedLayer, type ResolvedVariant } from '../../plugins/manifest.js';
import { SCAFFOLD_LAYOUTS, scaffoldPlugin, type ScaffoldLayout } from '../../plugins/scaffold.js';
import type { VariantOnnxCheck } from '../../plugins/onnx-check.js';
import { harnessVersion } from '../main.js';
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
      // arch against export.py's builder (static: Python's parser, no torch).
      let archNote = 'arch not checked against export.py: fix the manifest first';
      if (check.manifest && !check.problems.length) {
        const { checkArchAgainstBuilder } = await import('../../plugins/arch-check.js');
        const arch = checkArchAgainstBuilder(check.manifest, dirname(file), file);
        if (arch.checked) {
          problems.push(...arch.problems);
          archNote = `arch checked against ${arch.builder}(${arch.params.join(', ')})`;
        } else archNote = `arch not checked against export.py: ${arch.reason}`;
      }
      if (opts.json) ctx.io.out(JSON.stringify({ file, valid: problems.length === 0, problems, onnx }, null, 2));
      else {
        const byStatus = (status: string): string[] => (onnx ?? []).filter((v) => v.status === status).map((v) => v.variant);
        const onnxNote = !opts.onnx ? 'ONNX files not checked (--no-onnx)'
          : onnx === null ? 'ONNX files not checked: fix the manifest first'
          : `ONNX checked: ${byStatus('checked').join(', ') || 'none'}${byStatus('not exported').length ? `; not exported: ${byStatus('not exported').join(', ')}` : ''}${byStatus('not here').length ? `; ONNX-only file not here: ${byStatus('not here').join(', ')}` : ''}`;
        if (problems.length === 0) ctx.io.out(`${file}: valid (${check.manifest?.variants.length} variants; ${onnxNote}; ${archNote})`);
        else {
          ctx.io.out(`${file}: ${problems.length} problem${problems.length > 1 ? 's' : ''}`);
          for (const p of problems) ctx.io.out(`  ${p.path}: ${p.message}${p.fix ? `\n      fix: ${p.fix}` : ''}`);
          ctx.io.out(`  (${onnxNote}; ${archNote})`);
        }
      }
      if (problems.length) ctx.exitCode = EXIT_PROBLEMS;
    });

  plugins
    .command('show')
    .argument('<plugin>', 'a plugin folder or its plugin.json, or a plugin id')
    .description('show a plugin\'s variants as the harness understands them (with --resolved --json: what the Python exporter reads)')
    .option('--variant <name>', 'only this variant')
    .option('--resolved', 'with --json: defaults applied, overrides merged, layer patterns expanded, paths absolute (otherwise: plugin.json as written)')
    .option('--json', 'machine-readable output')
    .option('--models <dir>', 'exported ONNX folder (default: $BRAINZOO_MODELS or ~/.cache/brainzoo/models)')
    .option('--plugins <dirs...>', 'extra plugin folders (to find a plugin by id)')
    .addHelpText('after', '\nA manifest that fails `zoo plugins validate` (schema or meaning) is bad input: exit 2 with its first problem.\n\nExamples:\n  zoo plugins show dinov2\n  zoo plugins show ./my-net --variant tiny --resolved --json')
    .action((target: string, opts: { variant?: string; resolved?: boolean; json?: boolean; models?: string; plugins?: string[] }) => {
      const abs = resolve(ctx.io.cwd, target);
      refuseLoop(abs);
      // a manifest file under any name (export.py --manifest FILE asks for it so), else a folder or an id
      const dirs = existsSync(abs) && statSync(abs).isFile() ? [dirname(abs)] : pluginTargets(target, ctx.io.cwd, opts.plugins);
      if (dirs.length !== 1) {
        throw new ZooError('E_ARGS', `${target} holds ${dirs.length} plugins`, { file: abs, fix: `pass one plugin folder: ${dirs.join(', ')}` });
      }
      const file = existsSync(abs) && statSync(abs).isFile() ? abs : join(dirs[0], 'plugin.json');
      const check = checkManifestFile(file);
      if (!check.manifest || check.problems.length) {
        const first = check.problems[0];
        const more = check.problems.length > 1 ? ` (and ${check.problems.length - 1} more)` : '';
        throw new ZooError('E_PLUGIN_MANIFEST', `plugin.json is not valid: ${first.message}${more}`, {
          file,
          path: first.path,
          fix: `${first.fix ? `${first.fix}; ` : ''}zoo plugins validate ${dirs[0]} lists every problem`,
        });
      }
      const m = check.manifest;
      if (opts.variant !== undefined && !m.variants.some((v) => v.name === opts.variant)) {
        throw new ZooError('E_VARIANT_UNKNOWN', `plugin "${m.id}" has no variant "${opts.variant}"`, { file, fix: `use --variant with one of: ${m.variants.map((v) => v.name).join(', ')}` });
      }
      const models = opts.models === undefined ? undefined : resolve(ctx.io.cwd, opts.models);
      const resolved = resolvePlugin(m, file, models);
      const pick = <T extends { name: string }>(list: T[]): T[] => (opts.variant === undefined ? list : list.filter((v) => v.name === opts.variant));
      if (opts.json) {
        const value = opts.resolved
          ? (opts.variant === undefined ? resolved : pick(resolved.variants)[0])
          : (opts.variant === undefined ? m : pick(m.variants)[0]);
        ctx.io.out(JSON.stringify(value, null, 2));
        return;
      }
      ctx.io.out(`${m.id} ${m.version} (${m.family})  ${file}`);
      for (const v of pick(resolved.variants)) ctx.io.out(describeVariant(v));
    });

  plugins
    .command('test')
    .argument('<plugin>', 'a plugin folder (or its plugin.json, or an npm package listing plugins), or a plugin id')
    .description('run the conformance checks on a plugin wherever it lives: manifest, ONNX inputs/outputs/shapes, feature extraction, export reproducibility, a one-epoch fit')
    .option('--variant <name>', 'variant to check (default: the tiny variant)')
    .option('--json', 'machine-readable output')
    .option('--device <device>', 'cpu | webgpu | cuda', 'cpu')
    .option('--full-fixtures', 'also regenerate bundled fine-tuned fixtures (minutes)')
    .option('--no-export', 'skip the export check: the one check that runs the plugin\'s own code (its export.py, under its export.python)')
    .option('--models <dir>', 'exported ONNX folder (default: $BRAINZOO_MODELS or ~/.cache/brainzoo/models)')
    .option('--plugins <dirs...>', 'extra plugin folders (to find a plugin by id)')
    .addHelpText('after', '\nThe export check runs the plugin\'s export.py (third-party code unless you wrote it); a line on stderr says so before it runs, and --no-export skips it. The other checks only read the plugin\'s files.\n\nExit status: 0 every check passed or was skipped, 1 a check failed, 2 bad input (no such folder, unknown id or variant, a manifest path that leaves the plugin folder).\n\nExamples:\n  zoo plugins test .                     # in a plugin package (its npm test script)\n  zoo plugins test dinov2\n  zoo plugins test ./my-net --variant vit-b-16 --json\n  zoo plugins test ./downloaded-net --no-export   # nothing of the plugin runs')
    .action(async (target: string, opts: { variant?: string; json?: boolean; device: string; fullFixtures?: boolean; export: boolean; models?: string; plugins?: string[] }) => {
      const dirs = pluginTargets(target, ctx.io.cwd, opts.plugins);
      const { testPlugin } = await import('../../plugins/conformance.js');
      const device = parseDevice(opts.device);
      const reports: ConformanceReport[] = [];
      for (const dir of dirs) {
        if (!opts.json) ctx.io.out(`${dir}`);
        const report = await testPlugin(dir, { variant: opts.variant, models: opts.models, device, fullFixtures: opts.fullFixtures, export: opts.export, notice: (line) => ctx.io.err(line) }, (r) => {
          if (!opts.json) ctx.io.out(formatResult(r));
        });
        reports.push(report);
        if (!opts.json) ctx.io.out(`${report.plugin}${report.variant ? ` (${report.variant})` : ''}: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped\n`);
      }
      if (opts.json) ctx.io.out(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
      if (reports.some((r) => r.failed > 0)) ctx.exitCode = EXIT_PROBLEMS;
    });

  plugins
    .command('new')
    .argument('<name>', 'plugin id (lower-case, digits, dashes)')
    .option('--package', 'make it an npm package (package.json with the keyword brainzoo-plugin, npm test = zoo plugins test .)')
    .addOption(new Option('--layout <layout>', 'template: a ViT (NLC tokens) or a CNN (NCHW stages of different sizes)').choices([...SCAFFOLD_LAYOUTS]).default('vit'))
    .option('--dir <dir>', 'parent folder (default: the current folder)')
    .option('--family <family>', 'display family')
    .description('scaffold a plugin folder (plugin.json, export.py, README.md; package.json with --package) that passes zoo plugins test once its tiny variant is exported')
    .addHelpText('after', '\nExamples:\n  zoo plugins new my-vit --package\n  zoo plugins new my-resnet --package --layout cnn --dir ~/code')
    .action((name: string, opts: { dir?: string; family?: string; package?: boolean; layout: ScaffoldLayout }) => {
      const parent = resolve(ctx.io.cwd, opts.dir ?? '.');
      const dir = scaffoldPlugin(parent, name, { family: opts.family, layout: opts.layout, package: opts.package, brainzooVersion: harnessVersion() });
      const plugins = relativeOrAbsolute(ctx.io.cwd, dir);
      ctx.io.out(
        [
          `created ${dir} (${opts.layout === 'cnn' ? 'CNN, NCHW stages' : 'ViT, NLC tokens'}${opts.package ? ', npm package' : ''})`,
          'next: edit plugin.json and export.py (the architecture, the official names), then',
          `  zoo export --plugins ${plugins} --plugin ${name} --variant tiny --random-init`,
          `  zoo plugins test ${plugins}${opts.package ? '          (npm test, in the package)' : ''}`,
          `  zoo bench ${name} --plugins ${plugins} --subjects subj01 --max-epochs 2 --out ${name}-bench   (a quick leaderboard row on the bundled synthetic brain)`,
        ].join('\n'),
      );
    });
}

function layoutText(l: ResolvedLayer): string {
  const [rows, cols] = l.layout.grid;
  const prefix = l.layout.format === 'NLC' ? `${l.layout.cls ? ' CLS' : ''}${l.layout.registers ? ` +${l.layout.registers} registers` : ''}` : '';
  return `${l.layout.format}${prefix} ${rows}×${cols}×${l.channels}`;
}

/** A variant in a few lines: weights, input, layers (runs of equal layouts folded), ONNX. */
function describeVariant(v: ResolvedVariant): string {
  const p = v.preprocess;
  const weights = [
    v.bundled ? `bundled${v.seed !== undefined ? ` (seed ${v.seed})` : ''}` : '',
    v.finetune ? `fine-tuned from ${v.finetune.from} on ${v.finetune.dataset}` : '',
    v.checkpoint ? `checkpoint ${v.checkpoint.url}` : '',
    v.onnxOnly ? `ONNX only (sha256 ${v.onnxOnly.sha256})` : '',
  ].filter(Boolean).join(', ');
  const runs: string[] = [];
  for (let i = 0; i < v.layers.length; ) {
    let j = i;
    while (j + 1 < v.layers.length && layoutText(v.layers[j + 1]) === layoutText(v.layers[i])) j++;
    runs.push(`${v.layers[i].name}${j > i ? ` … ${v.layers[j].name}` : ''}: ${layoutText(v.layers[i])}`);
    i = j + 1;
  }
  return [
    `  ${v.name}  (size ${v.size}${v.params !== undefined ? `, ${v.params} M params` : ''})  ${weights}`,
    `    input   ${p.resolution} px, ${p.resize}, ${p.interpolation}, mean ${JSON.stringify(p.mean)}, std ${JSON.stringify(p.std)}`,
    `    layers  ${v.layers.length}: ${runs.join('; ')}`,
    `    onnx    ${v.onnxPath}${existsSync(v.onnxPath) ? '' : ' (not exported)'}`,
  ].join('\n');
}

const MARK: Record<CheckResult['status'], string> = { pass: '✓', fail: '✗', skip: '-' };

/** One line per check (ESLint's RuleTester, timm's per-model tests), with the reason and the fix under it. */
function formatResult(r: CheckResult): string {
  const lines = [`  ${MARK[r.status]} ${r.check.padEnd(11)} ${r.title}${r.status === 'pass' ? `: ${r.message}` : ''} (${r.seconds.toFixed(1)} s)`];
  if (r.status !== 'pass') lines.push(`      ${r.status === 'skip' ? 'skipped: ' : ''}${r.message}`);
  if (r.status !== 'pass' && r.file) lines.push(`      file: ${r.file}`);
  if (r.status !== 'pass' && r.fix) lines.push(`      fix: ${r.fix}`);
  return lines.join('\n');
}

/**
 * What `zoo plugins test` checks: a path (a plugin folder, its plugin.json, or an npm package
 * whose package.json lists plugin folders under "brainzoo": {"plugins": [...]}) or a plugin id.
 * An argument that looks like a path (has a slash, starts with a dot) is never taken as an id.
 */
function pluginTargets(target: string, cwd: string, extraDirs?: string[]): string[] {
  const abs = resolve(cwd, target);
  refuseLoop(abs);
  const looksLikePath = /[\\/]/.test(target) || target.startsWith('.') || target.endsWith('.json');
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) {
      if (abs.endsWith('plugin.json')) return [resolve(abs, '..')];
      throw new ZooError('E_ARGS', `${abs} is a file, not a plugin folder`, { file: abs, fix: 'pass the plugin folder (the one holding plugin.json)' });
    }
    if (existsSync(join(abs, 'plugin.json'))) return [abs];
    const listed = packagePluginDirs(abs);
    if (listed.length) return listed;
    throw new ZooError('E_ARGS', `no plugin.json in ${abs}`, { file: abs, fix: 'pass a plugin folder (zoo plugins new NAME makes one), or a package whose package.json lists its plugins under "brainzoo": {"plugins": [...]}' });
  }
  if (looksLikePath) throw new ZooError('E_ARGS', `plugin folder ${abs} does not exist`, { file: abs, fix: 'check the path, or pass a plugin id (zoo plugins list)' });
  const registry = new PluginRegistry({ extraDirs: extraDirs?.map((d) => resolve(cwd, d)), cwd });
  const entry = registry.list().find((e) => e.id === target);
  if (!entry) registry.get(target); // throws E_PLUGIN_UNKNOWN with suggestions
  return [entry?.dir ?? abs];
}

function packagePluginDirs(dir: string): string[] {
  const pkgJson = join(dir, 'package.json');
  if (!existsSync(pkgJson)) return [];
  let pkg: { brainzoo?: { plugins?: unknown } };
  try {
    pkg = parseJsonText(readFileSync(pkgJson, 'utf8'), MANIFEST_LIMITS.depth) as typeof pkg;
  } catch (err) {
    throw new ZooError('E_ARGS', `package.json is not valid JSON: ${(err as Error).message}`, { file: pkgJson, fix: 'fix the JSON syntax' });
  }
  const listed = Array.isArray(pkg.brainzoo?.plugins) ? (pkg.brainzoo.plugins as unknown[]).map(String) : [];
  return listedPluginDirs(dir, listed).map(({ dir: pluginDir, refused }) => {
    if (refused) throw new ZooError('E_PLUGIN_MANIFEST', refused.problem.message, { file: refused.manifestPath, path: refused.problem.path, fix: refused.problem.fix });
    return pluginDir;
  });
}

/** A path given on the command line that is a symbolic-link loop is bad input, said so (not "does not exist"). */
function refuseLoop(abs: string): void {
  if (isSymlinkLoop(abs)) throw new ZooError('E_ARGS', `${abs} is a symbolic-link loop`, { file: abs, fix: 'pass a real plugin folder (ls -l shows where each link leads)' });
}

/** A path as the user would type it from `cwd`: relative below it, absolute elsewhere. */
function relativeOrAbsolute(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The plugin.json of a PATH given on the command line (a plugin folder or the file); a path that is neither is bad input. */
function manifestFileOf(abs: string): string {
  refuseLoop(abs);
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
