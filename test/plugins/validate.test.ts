/** harness/plugins/validate.ts: every schema problem of a plugin.json has its path and a fix with an example. */
import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { packageRoot, schemaPath } from '../../harness/core/paths.js';
import { PATTERN_WORDS, checkManifestFile, exampleOf, expandLayers, type ManifestProblem, type SchemaNode } from '../../harness/plugins/validate.js';
import { jsonNestingDepth } from '../../harness/core/json.js';
import { isZooError } from '../../harness/core/errors.js';
import { MANIFEST_LIMITS } from '../../harness/plugins/manifest.js';
import { PluginRegistry } from '../../harness/plugins/registry.js';
import { bundledPluginCopy, tempDir, zoo } from '../helpers.js';

type Manifest = Record<string, unknown> & { variants: Record<string, unknown>[]; paper: Record<string, unknown>; preprocess: Record<string, unknown> };

function problemsOf(edit: (m: Manifest) => void): ManifestProblem[] {
  const dir = join(tempDir('schema'), 'imagenet-vit');
  bundledPluginCopy('imagenet-vit', dir);
  const m = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as Manifest;
  edit(m);
  writeFileSync(join(dir, 'plugin.json'), JSON.stringify(m));
  return checkManifestFile(join(dir, 'plugin.json')).problems;
}

describe('plugins/validate: schema problems name the fix, with an example', () => {
  // [case, edit, JSON path, message, fix]
  const cases: [string, (m: Manifest) => void, string, RegExp, RegExp][] = [
    ['pattern (version)', (m) => { m.version = '1.0'; }, '/version', /does not match .*\(found "1\.0"\)/, /MAJOR\.MINOR\.PATCH, e\.g\. "version": "1\.0\.0"/],
    ['pattern (id)', (m) => { m.id = 'My Net'; }, '/id', /does not match/, /lower-case letters, digits and dashes.*e\.g\. "id": "my-vit"/],
    ['pattern (variant name)', (m) => { m.variants[0].name = 'ViT B'; }, '/variants/0/name', /does not match/, /e\.g\. "name": "vit-b-16\.openai"/],
    ['pattern (layer pattern without {i})', (m) => { (m.variants[0].layers as Record<string, unknown>).output = 'block'; }, '/variants/0/layers/output', /does not match/, /"\{i\}" where the block index goes, e\.g\. "output": "block_\{i\}"/],
    ['pattern (sha256)', (m) => { m.variants[0].checkpoint = { url: 'https://example.org/w.pth', sha256: 'abc' }; }, '/variants/0/checkpoint/sha256', /found "abc"/, /64 lower-case hexadecimal digits.*e\.g\. "sha256": "[0-9a-f]{64}"/],
    ['type (integer)', (m) => { m.paper.year = 'last year'; }, '/paper/year', /must be an integer \(found "last year"\)/, /write an integer, e\.g\. "year": 2023/],
    ['type (string)', (m) => { m.family = 7; }, '/family', /must be a string \(found 7\)/, /write a string, e\.g\. "family": "DINOv2"/],
    ['type (object)', (m) => { m.variants[0].checkpoint = 'https://example.org/w.pth'; }, '/variants/0/checkpoint', /must be an object/, /e\.g\. "checkpoint": \{"url":/],
    ['minimum', (m) => { (m.variants[0].layers as Record<string, unknown>).channels = -3; }, '/variants/0/layers/channels', /must be >= 1 \(found -3\)/, /a number >= 1, e\.g\. "channels": 768/],
    ['maximum', (m) => { m.preprocess.resolution = 100000; }, '/preprocess/resolution', /must be <= 4096/, /e\.g\. "resolution": 224/],
    ['exclusiveMinimum', (m) => { m.preprocess.std = [0.2, 0, 0.2]; }, '/preprocess/std/1', /must be > 0/, /a number > 0, e\.g\. 0\.5/],
    ['minItems', (m) => { m.preprocess.mean = [0.5, 0.5]; }, '/preprocess/mean', /must have exactly 3 items/, /e\.g\. "mean": \[0\.485,0\.456,0\.406\]/],
    ['minItems (variants)', (m) => { m.variants = []; }, '/variants', /at least 1 item/, /e\.g\. "variants": \[\{"name":/],
    ['minLength', (m) => { m.family = ''; }, '/family', /must not be empty/, /e\.g\. "family": "DINOv2"/],
    ['oneOf (layers neither list nor pattern)', (m) => { m.variants[0].layers = 12; }, '/variants/0/layers', /matches none of the allowed forms \(found 12\)/, /a list of \{"name", "output", "channels"\} objects or an object with "count", "name", "output", "channels", e\.g\. "layers": \{"count":12/],
    ['required', (m) => { delete m.variants[0].arch; }, '/variants/0', /missing required property "arch"/, /add "arch", e\.g\. "arch": \{"patch_size":16/],
    ['additionalProperties', (m) => { m.colour = 'red'; }, '/colour', /unexpected property "colour"/, /expected properties: "\$schema", "id", "family"/],
    ['enum', (m) => { m.variants[0].size = 'XL'; }, '/variants/0/size', /must be one of .*\(found "XL"\)/, /use one of "tiny", "Ti", "S"/],
  ];
  for (const [name, edit, path, message, fix] of cases) {
    it(`[${name}] ${path}`, () => {
      const problems = problemsOf(edit);
      const p = problems.find((x) => x.path === path);
      assert.ok(p, `no problem at ${path}: ${JSON.stringify(problems)}`);
      assert.match(p.message, message);
      assert.match(p.fix ?? '', fix);
    });
  }

  it('a oneOf value whose list branch fits reports only that branch\'s problem', () => {
    const problems = problemsOf((m) => { m.variants[0].layers = [{ name: 'blocks.0', output: 'block_0' }]; });
    assert.deepEqual(problems.map((p) => p.path), ['/variants/0/layers/0'], JSON.stringify(problems));
    assert.match(problems[0].fix ?? '', /add "channels", e\.g\. "channels": 768/);
  });

  it('every problem of a thoroughly broken manifest has a fix', () => {
    const problems = problemsOf((m) => {
      m.version = 2; m.id = ''; m.family = ''; m.paper = { title: '', year: 1066 }; m.preprocess = { resolution: 1, mean: [1], std: [0, 0, 0], resize: 'zoom' };
      m.variants[0] = { name: '', size: 'M', params: -1, arch: 'vit', layers: [] };
      m.tokenLayout = { format: 'NLC', cls: 'yes', grid: [14] };
    });
    assert.ok(problems.length >= 12, JSON.stringify(problems));
    for (const p of problems) assert.ok(p.fix && p.fix.length > 10, `${p.path}: ${p.message} has no fix`);
  });

  it('every field of the schema has an example that the field itself accepts, and every pattern has words', () => {
    const root = JSON.parse(readFileSync(schemaPath('plugin.schema.json'), 'utf8')) as SchemaNode & { $id: string };
    const ajv = new Ajv({ strict: false });
    ajv.addSchema(root);
    const fields: string[] = [];
    const walk = (node: SchemaNode, pointer: string): void => {
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        const at = `${pointer}/properties/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        fields.push(at);
        walk(child, at);
        if (child.items) walk(child.items, `${at}/items`);
      }
    };
    walk(root, '');
    for (const [name, def] of Object.entries(root.definitions ?? {})) walk(def, `/definitions/${name}`);
    assert.ok(fields.length > 50, `${fields.length} fields`);
    for (const at of fields) {
      const node = at.split('/').slice(1).reduce<unknown>((n, k) => (n as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')], root) as SchemaNode;
      const example = exampleOf(node, root);
      assert.notEqual(example, undefined, `${at} has no example (add "examples" to it in schemas/plugin.schema.json)`);
      const check = ajv.compile({ $ref: `${root.$id}#${at}` });
      assert.ok(check(example), `${at}: its example ${JSON.stringify(example)} is rejected: ${JSON.stringify(check.errors)}`);
      if (node.pattern) assert.ok(PATTERN_WORDS[node.pattern], `${at}: pattern ${node.pattern} has no words in PATTERN_WORDS`);
    }
  });
});

describe('plugins/validate: the path given to zoo plugins validate', () => {
  it('a missing path exits 2 with E_ARGS naming it', async () => {
    const missing = join(tempDir('nopath'), 'no-such-plugin');
    const run = await zoo(['plugins', 'validate', missing]);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stderr, /error E_ARGS: plugin path .*no-such-plugin does not exist/);
    assert.match(run.stderr, /fix: +pass a plugin folder/);
    assert.equal(run.stdout, '');
  });

  it('a folder without plugin.json exits 2 naming the folder', async () => {
    const dir = join(tempDir('noplugin'), 'empty');
    mkdirSync(dir);
    const run = await zoo(['plugins', 'validate', dir]);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`error E_ARGS: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no plugin\\.json`));
  });
});

describe('plugins/validate: meaning checks that the Python exporter used to make on its own', () => {
  it('a fine-tuned variant whose arch differs from its source is a problem at its arch', () => {
    const problems = problemsOf((m) => {
      const ft = m.variants.find((v) => v.name === 'tiny.shapes') as Record<string, unknown> & { arch: Record<string, unknown> };
      ft.arch = { ...ft.arch, num_layers: 5 };
    });
    const at = problemsOf(() => undefined).length;
    assert.equal(at, 0, 'the unedited copy is valid');
    const p = problems.find((x) => /\/variants\/\d+\/arch$/.test(x.path));
    assert.ok(p, JSON.stringify(problems));
    assert.match(p.message, /"tiny\.shapes" is fine-tuned from "tiny" but their arch differ/);
    assert.match(p.fix ?? '', /copy the arch of "tiny" into "tiny\.shapes"/);
  });
});

describe('plugins/validate: arch against export.py\'s model builder (static, no torch)', () => {
  it('every bundled plugin\'s arch fits its builder, and validate says it checked', async () => {
    for (const id of ['clip', 'dinov2', 'imagenet-vit', 'mae', 'mocov3', 'sam']) {
      const run = await zoo(['plugins', 'validate', join(packageRoot(), 'plugins', id), '--no-onnx']);
      assert.equal(run.code, 0, run.stdout);
      assert.match(run.stdout, /arch checked against build_model\(/);
    }
  });

  it('a key the builder does not take and a required parameter the arch lacks are problems at the arch, with the builder\'s parameters as the fix', async () => {
    const root = tempDir('arch-check');
    const dir = join(root, 'mae');
    bundledPluginCopy('mae', dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')) as { variants: { name: string; arch?: Record<string, unknown>; onnx?: string }[] };
    const tiny = manifest.variants.findIndex((v) => v.name === 'tiny');
    const arch = manifest.variants[tiny].arch as Record<string, unknown>;
    arch.embed_dims = arch.embed_dim; // a typo
    delete arch.embed_dim;
    writeFileSync(join(dir, 'plugin.json'), JSON.stringify(manifest, null, 2));
    const run = await zoo(['plugins', 'validate', dir, '--no-onnx']);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, new RegExp(`/variants/${tiny}/arch: variant tiny: arch has 'embed_dims', which build_model\\(\\) in export.py does not take\\n\\s+fix: build_model\\(\\) takes img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio`));
    assert.match(run.stdout, new RegExp(`/variants/${tiny}/arch: variant tiny: arch lacks 'embed_dim', which build_model\\(\\) in export.py requires`));
  });
});

describe('plugins/validate: manifests that are odd or hostile as text (a BOM, deep nesting, huge sizes)', function () {
  this.timeout(60_000);
  const valid = (): string => {
    const dir = join(tempDir('raw'), 'imagenet-vit');
    bundledPluginCopy('imagenet-vit', dir);
    return readFileSync(join(dir, 'plugin.json'), 'utf8');
  };
  const withManifest = (edit: (m: Manifest) => void): ((text: string) => string) => (text) => {
    const m = JSON.parse(text) as Manifest;
    edit(m);
    return JSON.stringify(m);
  };
  const layers0 = (m: Manifest): Record<string, unknown> => m.variants[0].layers as Record<string, unknown>;
  // [case, the file's text from a valid one, JSON path (null: valid), message]
  const cases: [string, (text: string) => string, string | null, RegExp | null][] = [
    ['a UTF-8 byte order mark before a valid manifest', (t) => `\ufeff${t}`, null, null],
    ['200,000 nested objects', () => `${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`, '/', /objects and lists nested more than 64 levels deep/],
    ['200,000 nested arrays', () => `${'['.repeat(200_000)}${']'.repeat(200_000)}`, '/', /objects and lists nested more than 64 levels deep/],
    ['nesting inside strings does not count', withManifest((m) => { m.description = '['.repeat(100_000); }), null, null],
    ['a layer pattern of a billion layers', withManifest((m) => { layers0(m).count = 1_000_000_000; }), '/variants/0/layers/count', /must be <= 4096 \(found 1000000000\)/],
    ['a billion channels', withManifest((m) => { layers0(m).channels = 1_000_000_000; }), '/variants/0/layers/channels', /must be <= 65536/],
    ['a grid of 100,000 × 100,000', withManifest((m) => { m.tokenLayout = { format: 'NLC', cls: true, grid: [100_000, 100_000] }; }), '/tokenLayout/grid/0', /must be <= 256/],
    ['100,000 register tokens', withManifest((m) => { m.tokenLayout = { format: 'NLC', cls: true, registers: 100_000, grid: [8, 8] }; }), '/tokenLayout/registers', /must be <= 256/],
    ['5,000 listed layers', withManifest((m) => { m.variants[0].layers = Array.from({ length: 5000 }, (_, i) => ({ name: `b${i}`, output: `o${i}`, channels: 8 })); }), '/variants/0/layers', /must have at most 4096 items/],
    ['300 variants', withManifest((m) => { m.variants = Array.from({ length: 300 }, (_, i) => ({ ...m.variants[0], name: `v${i}` })); }), '/variants', /must have at most 256 items/],
    ['a time step of a billion', withManifest((m) => { m.variants[0].layers = [{ name: 'b', output: 'o', channels: 8, timestep: 1_000_000_000 }]; }), '/variants/0/layers/0/timestep', /must be <= 1000/],
    ['a 9 MiB manifest', withManifest((m) => { m.description = 'x'.repeat(9 * 1024 * 1024); }), '/', /plugin\.json is 9\.0 MiB; a plugin\.json may be at most 8 MiB/],
  ];

  for (const [name, make, path, message] of cases) {
    it(`[${name}] ${path === null ? 'is valid' : `is a problem at ${path}`}: validate, list and show answer at once, never a trace`, async () => {
      const root = tempDir('raw-case');
      const dir = join(root, 'imagenet-vit');
      bundledPluginCopy('imagenet-vit', dir);
      writeFileSync(join(dir, 'plugin.json'), make(valid()));
      const t0 = Date.now();
      const problems = checkManifestFile(join(dir, 'plugin.json')).problems;
      if (path === null) assert.deepEqual(problems, []);
      else {
        const p = problems.find((x) => x.path === path);
        assert.ok(p, `no problem at ${path}: ${JSON.stringify(problems).slice(0, 500)}`);
        assert.match(p.message, message as RegExp);
        assert.ok(p.fix && p.fix.length > 10, `${p.path}: ${p.message} has no fix`);
      }
      const validate = await zoo(['plugins', 'validate', dir, '--no-onnx']);
      assert.equal(validate.code, path === null ? 0 : 1, validate.stdout.slice(0, 2000) + validate.stderr);
      if (path === null) assert.match(validate.stdout, /: valid \(.*arch checked against build_model\(/);
      else assert.match(validate.stdout, new RegExp(`^  ${path.replace(/[/]/g, '\\/')}: ${(message as RegExp).source}`, 'm'));
      const list = await zoo(['plugins', 'list', '--json', '--plugins', root]);
      assert.equal(list.code, 0, list.stderr);
      const row = (JSON.parse(list.stdout) as { id: string; dir: string; status: string }[]).find((r) => r.dir === dir);
      assert.equal(row?.status, path === null ? 'ok' : 'broken');
      const show = await zoo(['plugins', 'show', dir]);
      assert.equal(show.code, path === null ? 0 : 2, show.stderr);
      if (path !== null) assert.match(show.stderr, /^error E_PLUGIN_MANIFEST: plugin\.json is not valid: /);
      assert.doesNotMatch(validate.stdout + validate.stderr + list.stderr + show.stderr, /internal error|RangeError|Maximum call stack/);
      assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms`);
    });
  }

  it('expandLayers refuses a pattern past the bound before allocating anything (E_PLUGIN_MANIFEST)', () => {
    assert.throws(() => expandLayers({ count: 1_000_000_000, name: 'b{i}', output: 'o{i}', channels: 8 }), (err: unknown) => isZooError(err) && err.code === 'E_PLUGIN_MANIFEST' && /1000000000 blocks \(at most 4096\)/.test(err.message));
    assert.equal(expandLayers({ count: 4096, name: 'b{i}', output: 'o{i}', channels: 8 })?.length, 4096);
  });

  it('the schema carries MANIFEST_LIMITS, and every bundled backbone fits them with room to spare (a quarter of each at most)', () => {
    const schema = JSON.parse(readFileSync(schemaPath('plugin.schema.json'), 'utf8')) as SchemaNode & { definitions: Record<string, SchemaNode> };
    const d = schema.definitions;
    const p = (node: string, key: string): SchemaNode => (d[node].properties ?? {})[key];
    const layersList = (d.variant.properties?.layers.oneOf ?? [])[0];
    assert.deepEqual(
      [p('layerPattern', 'count').maximum, layersList.maxItems, p('layer', 'channels').maximum, p('layerPattern', 'channels').maximum, p('tokenLayout', 'grid').items?.maximum, p('layer', 'grid').items?.maximum, p('tokenLayout', 'registers').maximum, p('layer', 'timestep').maximum, schema.properties?.variants.maxItems],
      [MANIFEST_LIMITS.layers, MANIFEST_LIMITS.layers, MANIFEST_LIMITS.channels, MANIFEST_LIMITS.channels, MANIFEST_LIMITS.grid, MANIFEST_LIMITS.grid, MANIFEST_LIMITS.registers, MANIFEST_LIMITS.timestep, MANIFEST_LIMITS.variants],
    );
    const registry = new PluginRegistry();
    for (const entry of registry.list().filter((e) => e.source === 'bundled')) {
      const text = readFileSync(entry.manifestPath, 'utf8');
      const variants = registry.allVariants({ plugins: [entry.id] });
      const layers = variants.flatMap((v) => v.layers);
      const seen = {
        bytes: Buffer.byteLength(text), depth: jsonNestingDepth(text), variants: variants.length,
        layers: Math.max(...variants.map((v) => v.layers.length)), channels: Math.max(...layers.map((l) => l.channels)),
        grid: Math.max(...layers.flatMap((l) => l.layout.grid)), registers: Math.max(...layers.map((l) => l.layout.registers)),
        timestep: Math.max(0, ...layers.map((l) => l.timestep ?? 0)),
      };
      for (const [key, value] of Object.entries(seen)) {
        const limit = MANIFEST_LIMITS[key as keyof typeof MANIFEST_LIMITS];
        assert.ok(value <= limit / 4, `${entry.id}: ${key} ${value} is more than a quarter of the bound ${limit}`);
      }
    }
  });
});
