/**
 * Benchmark (not a test): FactorTopy training steps with our ONNX Runtime train graph
 * (bench/fit-worker.ts → harness/model/graph.ts buildTrainGraph) against the idiomatic PyTorch
 * implementation of the same model (bench/py/torch_factortopy.py, structured as the authors'
 * code), same shapes, same machine, same thread count, both in child processes so each peak RSS
 * is its own. Prints steps/s, peak RSS and the ratios per scale:
 *
 *   small: 2,000 voxels, 6 layers × 48 channels (like the bundled tiny backbones)
 *   real:  37,984 voxels, 12 layers × 768 channels (the paper's subj01 ViT-B setting)
 *   (both: G 8, D 128, batch 8)
 *
 *   npm run bench:fit -- [--scale small|real|both] [--steps N] [--threads T] [--timeout S]
 *                        [--device cpu|cuda|webgpu] [--torch-device cpu|cuda] [--amp auto|off|fp16|bf16]
 *
 * --steps defaults to 5 at the real scale and 20 at the small one (after one untimed warm-up
 * step each). --threads defaults to os.cpus().length and is given to both sides. A side that
 * fails (out of memory, non-zero exit) or runs past --timeout seconds (default 900) is reported
 * as a failed row with the reason.
 *
 * --device is ONNX Runtime's execution provider (default cpu). The PyTorch comparator runs on
 * --torch-device (default: cpu with --device cpu, cuda otherwise) with --amp (default auto: fp32
 * on the CPU, torch.autocast fp16 + GradScaler on CUDA, as the authors train), so that it is as
 * fast as what it stands for. GPU steps are timed end to end: ours copies the inputs in and the
 * outputs back on every run, as zoo fit does; PyTorch synchronises before and after the timed loop.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { packageRoot, pythonExecutable } from '../harness/core/paths.js';
import { BATCH, D, G, SCALES, ortVersion, runOrtSide, runTorchSide, torchInfo, type Amp, type OrtDevice, type Outcome, type Scale, type TorchDevice } from './fit-sides.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: 'both' },
    steps: { type: 'string' },
    threads: { type: 'string' },
    timeout: { type: 'string', default: '900' },
    device: { type: 'string', default: 'cpu' },
    'torch-device': { type: 'string' },
    amp: { type: 'string', default: 'auto' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`bench:fit: ${msg}\n`);
  process.exit(2);
}

const scaleArg = values.scale as string;
if (!['small', 'real', 'both'].includes(scaleArg)) fail(`--scale must be small, real or both (got ${scaleArg})`);
const scales: Scale[] = scaleArg === 'both' ? [SCALES.small, SCALES.real] : [SCALES[scaleArg as Scale['name']]];
const stepsArg = values.steps === undefined ? undefined : Number(values.steps);
if (stepsArg !== undefined && (!Number.isInteger(stepsArg) || stepsArg < 1)) fail(`--steps must be a positive integer (got ${values.steps})`);
const threads = values.threads === undefined ? cpus().length : Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer (got ${values.threads})`);
const timeoutS = Number(values.timeout);
if (!(timeoutS > 0)) fail(`--timeout must be a positive number of seconds (got ${values.timeout})`);
const deviceArg = values.device as string;
if (!['cpu', 'cuda', 'webgpu'].includes(deviceArg)) fail(`--device must be cpu, cuda or webgpu (got ${deviceArg})`);
const device = deviceArg as OrtDevice;
const torchDeviceArg = values['torch-device'] ?? (device === 'cpu' ? 'cpu' : 'cuda');
if (!['cpu', 'cuda'].includes(torchDeviceArg)) fail(`--torch-device must be cpu or cuda (got ${torchDeviceArg})`);
const torchDevice = torchDeviceArg as TorchDevice;
const ampArg = values.amp as string;
if (!['auto', 'off', 'fp16', 'bf16'].includes(ampArg)) fail(`--amp must be auto, off, fp16 or bf16 (got ${ampArg})`);
const amp: Amp = ampArg === 'auto' ? (torchDevice === 'cuda' ? 'fp16' : 'off') : (ampArg as Amp);
if (torchDevice === 'cpu' && amp === 'fp16') fail('--amp fp16 needs --torch-device cuda (PyTorch autocasts to bf16 on the CPU: use --amp bf16)');

const root = packageRoot();
const python = pythonExecutable();

const torch = torchInfo(python);
const cpu = cpus();
process.stdout.write(
  `machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${loadavg()[0].toFixed(2)}; node ${process.version}\n` +
    `versions: onnxruntime-node ${ortVersion(root)}, PyTorch ${torch.version} (${python}, BLAS_INFO=${torch.blas}); threads ${threads} on both sides; timeout ${timeoutS} s per side\n` +
    (device !== 'cpu' || torchDevice !== 'cpu'
      ? `devices: onnxruntime-node on ${device}; PyTorch on ${torchDevice}${torchDevice === 'cuda' ? ` (CUDA ${torch.cudaVersion}, ${torch.gpuName ?? 'no CUDA device visible'})` : ''}, ${amp === 'off' ? 'fp32' : `autocast ${amp}${amp === 'fp16' ? ' + GradScaler' : ''}`}\n`
      : '') +
    (torch.blas === 'generic' && torchDevice === 'cpu'
      ? 'note: this PyTorch is built against the generic (reference) BLAS, so its Linear layers are slower than an MKL/OpenBLAS build (pip wheels) would be\n'
      : ''),
);

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const torchLabel = (o: Outcome): string => {
  const v = o.ok ? o.result.torch ?? torch.version : torch.version;
  return torchDevice === 'cpu' && amp === 'off' ? `PyTorch ${v}` : `PyTorch ${v} (${torchDevice}${amp === 'off' ? '' : `, AMP ${amp}`})`;
};

for (const scale of scales) {
  const steps = stepsArg ?? scale.defaultSteps;
  process.stderr.write(`bench:fit ${scale.name}: ONNX Runtime …\n`);
  const ours = runOrtSide(root, scale, steps, threads, device, timeoutS);
  process.stderr.write(`bench:fit ${scale.name}: PyTorch …\n`);
  const theirs = runTorchSide(python, root, scale, steps, threads, torchDevice, amp, timeoutS);

  process.stdout.write(
    `\nfit ${scale.name}: ${scale.voxels.toLocaleString('en-US')} voxels, ${scale.layers} layers × ${scale.channels} channels, G ${G}, D ${D}, batch ${BATCH}; ${steps} timed steps after 1 warm-up\n`,
  );
  const header = ['', 'steps/s', 'ms/step', 'peak RSS (MB)', 'fit loss'];
  const row = (label: string, o: Outcome): string[] =>
    o.ok ? [label, fmt(1000 / o.result.msPerStep, 2), fmt(o.result.msPerStep, 1), fmt(o.result.maxRssMB, 0), fmt(o.result.fitLoss, 4)] : [label, 'FAILED', '', '', ''];
  const rows: string[][] = [header, row(`onnxruntime-node (${device})`, ours), row(torchLabel(theirs), theirs)];
  if (ours.ok && theirs.ok) {
    rows.push(['ratio ORT / PyTorch', `${fmt(theirs.result.msPerStep / ours.result.msPerStep, 2)}×`, '', `${fmt(ours.result.maxRssMB / theirs.result.maxRssMB, 2)}×`, '']);
  } else {
    rows.push(['ratio ORT / PyTorch', 'n/a', '', 'n/a', '']);
  }
  for (const r of rows) process.stdout.write(`  ${r[0].padEnd(28)} ${r[1].padStart(9)} ${r[2].padStart(10)} ${r[3].padStart(14)} ${r[4].padStart(10)}\n`);
  if (ours.ok && theirs.ok && ours.result.parameters !== theirs.result.parameters) {
    process.stdout.write(`  note: parameter counts differ (ORT ${ours.result.parameters}, PyTorch ${theirs.result.parameters})\n`);
  } else if (ours.ok) {
    process.stdout.write(`  parameters: ${ours.result.parameters.toLocaleString('en-US')}\n`);
  }
  if (theirs.ok && theirs.result.gpuPeakMB !== undefined) process.stdout.write(`  PyTorch peak GPU memory (torch.cuda.max_memory_allocated): ${fmt(theirs.result.gpuPeakMB, 0)} MB\n`);
  if (!ours.ok) process.stdout.write(`  onnxruntime-node failed after ${ours.wallS.toFixed(0)} s: ${ours.reason}\n`);
  if (!theirs.ok) process.stdout.write(`  PyTorch failed after ${theirs.wallS.toFixed(0)} s: ${theirs.reason}\n`);
}
