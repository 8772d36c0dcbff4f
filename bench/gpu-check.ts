/**
 * The GPU check (not a test), run by bench/gpu-check.sh on a GPU machine: for each --devices
 * entry, (a) the real-scale FactorTopy training step with ONNX Runtime on that device against
 * PyTorch on the same machine in the same run (CUDA with autocast fp16 + GradScaler for a GPU
 * device, fp32 for cpu), and (b) a tiny `zoo bench` (bundled tiny backbones on the bundled
 * synthetic dataset) on that device against the same bench with --device cpu. Prints one table;
 * a side that cannot run (no CUDA provider, no Vulkan, a timeout, a crash) is a row with the
 * reason, never the end of the check.
 *
 *   node dist/bench/gpu-check.js [--devices cuda,webgpu] [--scale real|small] [--steps 5]
 *     [--bench-plugins mae,clip] [--bench-subjects subj01] [--bench-max-steps 200]
 *     [--timeout 240] [--budget 480] [--threads T] [--work DIR] [--report DIR]
 *
 * --timeout bounds each side; --budget bounds the whole check (the sides are run most important
 * first, and what would start past the budget is a "skipped" row). --report DIR also writes
 * gpu-check.md and gpu-check.json there. Ratios are the comparator's time ÷ ours: above 1, ours
 * is faster.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot, pythonExecutable } from '../harness/core/paths.js';
import { listRuns, readRunMetrics, type RunMetrics } from '../harness/runs/store.js';
import { errTail, ortVersion, runOrtSide, runTorchSide, SCALES, torchInfo, type Amp, type OrtDevice, type Outcome, type Scale, type TorchDevice } from './fit-sides.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: 'cuda,webgpu' },
    scale: { type: 'string', default: 'real' },
    steps: { type: 'string', default: '5' },
    'bench-plugins': { type: 'string', default: 'mae,clip' },
    'bench-subjects': { type: 'string', default: 'subj01' },
    'bench-max-steps': { type: 'string', default: '200' },
    timeout: { type: 'string', default: '240' },
    budget: { type: 'string', default: '480' },
    threads: { type: 'string' },
    work: { type: 'string' },
    report: { type: 'string' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`gpu-check: ${msg}\n`);
  process.exit(2);
}

function positive(name: string, v: string | undefined, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min} (got ${v})`);
  return n;
}

const devices = (values.devices as string).split(',').map((s) => s.trim()).filter((s) => s !== '');
for (const d of devices) if (!['cpu', 'cuda', 'webgpu'].includes(d)) fail(`--devices: unknown device "${d}" (cpu, cuda, webgpu)`);
if (devices.length === 0) fail('--devices is empty');
const scaleName = values.scale as string;
if (scaleName !== 'real' && scaleName !== 'small') fail(`--scale must be real or small (got ${scaleName})`);
const scale: Scale = SCALES[scaleName];
const steps = positive('steps', values.steps);
const benchPlugins = (values['bench-plugins'] as string).split(',').map((s) => s.trim()).filter((s) => s !== '');
const benchSubjects = values['bench-subjects'] as string;
const benchMaxSteps = positive('bench-max-steps', values['bench-max-steps'], 0);
const timeoutS = positive('timeout', values.timeout);
const budgetS = positive('budget', values.budget);
const threads = values.threads === undefined ? availableParallelism() : positive('threads', values.threads);
const work = resolve(values.work ?? mkdtempSync(join(tmpdir(), 'brainzoo-gpu-check-')));
mkdirSync(work, { recursive: true });

const root = packageRoot();
const python = pythonExecutable();
const started = Date.now();
const leftS = (): number => budgetS - (Date.now() - started) / 1000;
/** A side's time limit: its --timeout, or what is left of the budget (undefined: none left). */
function sideLimit(): number | undefined {
  const left = Math.floor(leftS());
  return left < 10 ? undefined : Math.min(timeoutS, left);
}
const log = (msg: string): void => {
  process.stderr.write(`gpu-check [${((Date.now() - started) / 1000).toFixed(0)} s]: ${msg}\n`);
};

// ---------------------------------------------------------------- probes

function firstLine(cmd: string, args: string[]): { ok: true; out: string } | { ok: false; why: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return { ok: false, why: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd} not found` : r.error.message };
  if (r.status !== 0) return { ok: false, why: `${cmd} exit ${r.status}: ${errTail(r.stderr, 1, 200)}` };
  return { ok: true, out: r.stdout.trim() };
}

const smi = firstLine('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
const gpuLine = smi.ok ? smi.out.split('\n').join('; ') : `no NVIDIA GPU seen (${smi.why})`;
const torch = torchInfo(python);
const ortDir = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
const cudaProvider = existsSync(join(ortDir, 'libonnxruntime_providers_cuda.so'));
/** What bench/gpu-check.sh found about a CUDA provider beside the npm package (borrowed from a same-version Python onnxruntime-gpu, or why not). */
const cudaNote = process.env.BRAINZOO_GPU_CHECK_CUDA_NOTE;
const cudaUnavailable = `unavailable: no CUDA provider library in onnxruntime-node (${ortDir.replace(root + '/', '')} has ${existsSync(ortDir) ? readdirSync(ortDir).join(', ') : 'nothing'}; npm does not ship libonnxruntime_providers_cuda.so, see README "Devices"${cudaNote ? `; ${cudaNote}` : ''})`;

/** Where the Vulkan loader comes from, and which ICDs (drivers) it would find. */
function vulkanProbe(): string {
  const fromScript = process.env.BRAINZOO_GPU_CHECK_VULKAN; // what bench/gpu-check.sh found or carried
  let loader: string;
  if (fromScript) loader = fromScript;
  else {
    const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 30_000 });
    const hit = (r.stdout ?? '').split('\n').find((l) => /libvulkan\.so\.1 \(.*x86-64/.test(l));
    loader = hit ? `loader ${hit.split('=>').pop()?.trim()}` : 'no libvulkan.so.1 (WebGPU needs libvulkan1)';
  }
  const icdDirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/local/nvidia/share/vulkan/icd.d'];
  const icds = icdDirs.flatMap((d) => (existsSync(d) ? readdirSync(d) : []));
  const forced = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  const icdNote = forced ? `ICD forced to ${forced}` : icds.length ? `ICDs ${icds.join(', ')}` : 'no Vulkan ICD files (the NVIDIA one is nvidia_icd.json, from the driver\'s graphics libraries)';
  return `${loader}; ${icdNote}`;
}
const vulkan = vulkanProbe();

// ---------------------------------------------------------------- rows

interface Row {
  device: string;
  what: string;
  /** Our figure, formatted with its unit, or FAILED / unavailable / skipped. */
  ours: string;
  comparator: string;
  theirs: string;
  ratio: string;
  note: string;
}
type Status = 'ok' | 'FAILED' | 'unavailable' | 'skipped';
interface Measured {
  ok: boolean;
  status: Status;
  /** ms per step (fit) or seconds (bench) */
  value: number;
  why: string;
  detail: string;
}
const rows: Row[] = [];
const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const ratio = (theirs: Measured | undefined, ours: Measured): string => (theirs?.ok && ours.ok ? `${fmt(theirs.value / ours.value, 2)}×` : 'n/a');

function fromOutcome(o: Outcome): Measured {
  if (!o.ok) return { ok: false, status: 'FAILED', value: NaN, why: `failed after ${o.wallS.toFixed(0)} s: ${o.reason}`, detail: '' };
  const r = o.result;
  const gpu = r.gpuPeakMB !== undefined ? `, GPU peak ${fmt(r.gpuPeakMB, 0)} MB` : '';
  return { ok: true, status: 'ok', value: r.msPerStep, why: '', detail: `fit loss ${fmt(r.fitLoss, 4)}, RSS ${fmt(r.maxRssMB, 0)} MB${gpu}` };
}
const skipped = (what: string): Measured => ({ ok: false, status: 'skipped', value: NaN, why: `skipped: the --budget of ${budgetS} s was spent before ${what}`, detail: '' });

// PyTorch comparators, run once each and shared by the rows that compare with them.
const torchRuns = new Map<string, Measured>();
function torchComparator(device: TorchDevice, amp: Amp): Measured {
  const key = `${device}:${amp}`;
  const seen = torchRuns.get(key);
  if (seen) return seen;
  let m: Measured;
  if (!torch.ok) m = { ok: false, status: 'unavailable', value: NaN, why: torch.version, detail: '' };
  else if (device === 'cuda' && !torch.cuda) m = { ok: false, status: 'unavailable', value: NaN, why: `unavailable: torch.cuda.is_available() is False (PyTorch ${torch.version}, CUDA ${torch.cudaVersion})`, detail: '' };
  else {
    const limit = sideLimit();
    if (limit === undefined) m = skipped(`PyTorch on ${device}`);
    else {
      log(`PyTorch ${device}${amp === 'off' ? '' : ` AMP ${amp}`}, ${scale.name} scale, ${steps} steps …`);
      m = fromOutcome(runTorchSide(python, root, scale, steps, threads, device, amp, limit));
    }
  }
  torchRuns.set(key, m);
  return m;
}
const torchLabel = (device: TorchDevice, amp: Amp): string => `PyTorch ${torch.ok ? torch.version : ''} ${device}${amp === 'off' ? ' fp32' : ` AMP ${amp}`}`.replace(/ +/g, ' ');

function fitRow(device: OrtDevice): void {
  const what = `train step, ${scale.name} (${scale.voxels.toLocaleString('en-US')} vox, ${scale.layers}×${scale.channels})`;
  const tDevice: TorchDevice = device === 'cpu' ? 'cpu' : 'cuda';
  const amp: Amp = tDevice === 'cuda' ? 'fp16' : 'off';
  const theirs = torchComparator(tDevice, amp);
  let ours: Measured;
  if (device === 'cuda' && !cudaProvider) ours = { ok: false, status: 'unavailable', value: NaN, why: cudaUnavailable, detail: '' };
  else {
    const limit = sideLimit();
    if (limit === undefined) ours = skipped(`ORT on ${device}`);
    else {
      log(`onnxruntime-node ${device}, ${scale.name} scale, ${steps} steps …`);
      ours = fromOutcome(runOrtSide(root, scale, steps, threads, device, limit));
    }
  }
  const notes = [ours.ok ? `ours: ${ours.detail}` : `ours ${ours.why}`, theirs.ok ? `PyTorch: ${theirs.detail}` : `PyTorch ${theirs.why}`];
  rows.push({
    device,
    what,
    ours: ours.ok ? `${fmt(ours.value, 1)} ms/step` : ours.status,
    comparator: torchLabel(tDevice, amp),
    theirs: theirs.ok ? `${fmt(theirs.value, 1)} ms/step` : theirs.status,
    ratio: ratio(theirs, ours),
    note: notes.join('; '),
  });
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  wallS: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in its own process group; past the limit the whole group is killed (zoo bench has worker processes). */
function runGroup(cmd: string, args: string[], limitS: number, logFile: string): Promise<RunResult> {
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, limitS * 1000);
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      writeFileSync(logFile, `$ ${cmd} ${args.join(' ')}\n\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
      done({ code, signal, timedOut, wallS: (Date.now() - t0) / 1000, stdout, stderr });
    };
    child.on('error', (err) => {
      stderr += String(err);
      finish(null, null);
    });
    child.on('close', finish);
  });
}

const benchRuns = new Map<string, Measured>();
async function benchMeasure(device: OrtDevice): Promise<Measured> {
  const seen = benchRuns.get(device);
  if (seen) return seen;
  let m: Measured;
  const limit = sideLimit();
  if (device === 'cuda' && !cudaProvider) m = { ok: false, status: 'unavailable', value: NaN, why: cudaUnavailable, detail: '' };
  else if (limit === undefined) m = skipped(`zoo bench on ${device}`);
  else {
    const out = join(work, `bench-${device}`);
    const args = [join(root, 'dist', 'harness', 'bin', 'zoo.js'), 'bench', ...benchPlugins, '--subjects', benchSubjects, '--device', device, '--out', out, '--cache', join(work, `cache-${device}`), '--quiet', '--max-steps', String(benchMaxSteps)];
    log(`zoo bench ${benchPlugins.join(' ')} --device ${device} …`);
    const r = await runGroup(process.execPath, args, limit, join(work, `bench-${device}.log`));
    const tail = errTail(r.stderr || r.stdout, 3, 300);
    const logFile = join(work, `bench-${device}.log`);
    if (r.timedOut) m = { ok: false, status: 'FAILED', value: NaN, why: `timed out after ${limit} s (log ${logFile})`, detail: '' };
    else if (r.code !== 0) m = { ok: false, status: 'FAILED', value: NaN, why: `failed: exit ${r.code ?? r.signal}: ${tail} (log ${logFile})`, detail: '' };
    else {
      // Each run's own record: steps trained, seconds per step, test R² (a device must not change the result much).
      let runs: RunMetrics[] = [];
      let unreadable = '';
      try {
        runs = listRuns(out).map((ref) => readRunMetrics(ref));
      } catch (err) {
        unreadable = `, runs unreadable: ${(err as Error).message.slice(0, 200)}`;
      }
      const fitSteps = runs.reduce((a, x) => a + x.steps, 0);
      const msPerStep = runs.length ? (1000 * runs.reduce((a, x) => a + x.seconds, 0)) / Math.max(1, fitSteps) : NaN;
      const r2 = runs.map((x) => `${x.plugin}/${x.variant} ${fmt(x.testR2, 3)}`).join(', ');
      m = { ok: true, status: 'ok', value: r.wallS, why: '', detail: `${runs.length} runs, ${fitSteps} fit steps at ${fmt(msPerStep, 1)} ms/step, test R² ${r2}${unreadable}` };
    }
  }
  benchRuns.set(device, m);
  return m;
}

async function benchRow(device: OrtDevice): Promise<void> {
  const what = `zoo bench ${benchPlugins.join(' ')} --subjects ${benchSubjects}${benchMaxSteps ? ` --max-steps ${benchMaxSteps}` : ''}`;
  // The comparator (zoo bench --device cpu) first, so that it is measured before the budget runs out.
  const theirs = device === 'cpu' ? undefined : await benchMeasure('cpu');
  const ours = await benchMeasure(device);
  rows.push({
    device,
    what,
    ours: ours.ok ? `${fmt(ours.value, 1)} s` : ours.status,
    comparator: device === 'cpu' ? '(is the comparator)' : 'zoo bench --device cpu',
    theirs: theirs === undefined ? '' : theirs.ok ? `${fmt(theirs.value, 1)} s` : theirs.status,
    ratio: theirs === undefined ? '' : ratio(theirs, ours),
    note: [ours.ok ? `ours: ${ours.detail}` : `ours ${ours.why}`, theirs === undefined ? '' : theirs.ok ? `cpu: ${theirs.detail}` : `cpu ${theirs.why}`].filter((s) => s).join('; '),
  });
}

// ---------------------------------------------------------------- run, most important first

const cpu = cpus();
const header = [
  `machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${loadavg()[0].toFixed(2)}`,
  `GPU: ${gpuLine}`,
  `versions: node ${process.version}, onnxruntime-node ${ortVersion(root)} (CUDA provider ${cudaProvider ? 'present' : 'absent'}${cudaNote ? `: ${cudaNote}` : ''}), PyTorch ${torch.version} (${python}; CUDA ${torch.cudaVersion}, torch.cuda.is_available() ${torch.cuda})`,
  `vulkan: ${vulkan}`,
  `settings: devices ${devices.join(',')}; ${scale.name} scale ${steps} timed steps after 1 warm-up, threads ${threads}; timeout ${timeoutS} s per side, budget ${budgetS} s; work ${work}`,
];


for (const d of devices) fitRow(d as OrtDevice);
for (const d of devices) await benchRow(d as OrtDevice);

const columns: (keyof Row)[] = ['device', 'what', 'ours', 'comparator', 'theirs', 'ratio', 'note'];
const titles: Record<keyof Row, string> = { device: 'device', what: 'what', ours: 'brainzoo', comparator: 'comparator (same machine, same run)', theirs: "comparator's", ratio: 'ratio', note: 'note' };
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = [
  `| ${columns.map((c) => titles[c]).join(' | ')} |`,
  `|${columns.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${columns.map((c) => cell(r[c])).join(' | ')} |`),
].join('\n');
const legend = `ratio: the comparator's time ÷ brainzoo's (above 1, brainzoo is faster); total ${((Date.now() - started) / 1000).toFixed(0)} s`;
process.stdout.write(`\n${header.join('\n')}\n\n${table}\n\n${legend}\n`);

if (values.report) {
  const dir = resolve(values.report);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'gpu-check.md'), `${header.map((h) => `- ${h}`).join('\n')}\n\n${table}\n\n${legend}\n`);
  writeFileSync(join(dir, 'gpu-check.json'), `${JSON.stringify({ header, rows, settings: { devices, scale, steps, threads, timeoutS, budgetS, benchPlugins, benchSubjects, benchMaxSteps } }, null, 2)}\n`);
}
// Exit 0 when every row measured both sides; 1 when some side failed or was unavailable (the table says which).
const complete = rows.every((r) => !/^(FAILED|unavailable|skipped)$/.test(r.ours) && !/^(FAILED|unavailable|skipped)$/.test(r.theirs));
process.exitCode = complete ? 0 : 1;
