/**
 * ONNX Runtime sessions and device resolution. `--device` names an execution provider:
 * cpu (always), webgpu (bundled Dawn; on a machine without a GPU it needs Mesa lavapipe), or
 * cuda (needs the CUDA provider: README "Devices"). Like
 * onnxruntime-common's backend resolution, a failure reports what was tried and why.
 */
import { existsSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { ZooError } from '../core/errors.js';

export type Device = 'cpu' | 'webgpu' | 'cuda';
export const DEVICES: readonly Device[] = ['cpu', 'webgpu', 'cuda'];

export function parseDevice(value: string | undefined): Device {
  const d = (value ?? 'cpu').toLowerCase();
  if ((DEVICES as readonly string[]).includes(d)) return d as Device;
  throw new ZooError('E_ARGS', `unknown device "${value}"`, { fix: `use --device ${DEVICES.join(' | ')}` });
}

const DEVICE_FIX: Record<Device, string> = {
  cpu: 'reinstall dependencies: npm ci',
  webgpu:
    'WebGPU needs a Vulkan driver: on a GPU machine the vendor driver and libvulkan1; without a GPU install Mesa lavapipe (Debian: apt-get install -t bookworm-backports mesa-vulkan-drivers) and set VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json; or use --device cpu',
  cuda: 'install the CUDA provider (needs CUDA 12 and cuDNN 9), from the project folder: ONNXRUNTIME_NODE_INSTALL=cuda12 node -e "require(\'onnxruntime-node/script/install\')"; or use --device cpu',
};

/** The execution provider for a device; `gpu` picks one of several CUDA devices. */
export function executionProvider(device: Device, gpu?: number): ort.InferenceSession.ExecutionProviderConfig {
  return device === 'cuda' && gpu !== undefined ? { name: 'cuda', deviceId: gpu } : device;
}

export function sessionOptions(device: Device, threads?: number, gpu?: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [executionProvider(device, gpu)],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
    logSeverityLevel: 3,
  };
}

/** Opens a model; a missing, truncated or corrupt file and an unavailable device each get their own error. */
export async function openSession(onnxPath: string, device: Device, threads?: number, gpu?: number): Promise<ort.InferenceSession> {
  if (!existsSync(onnxPath)) {
    throw new ZooError('E_ONNX_MISSING', `ONNX model not found`, {
      file: onnxPath,
      fix: 'export it first: zoo export --plugin <id> --variant <v> --checkpoint <official file> (see README "Real checkpoints")',
    });
  }
  if (statSync(onnxPath).size < 16) {
    throw new ZooError('E_ONNX_CORRUPT', 'ONNX file is empty or truncated', { file: onnxPath, fix: 're-export the model (zoo export …)' });
  }
  try {
    return await ort.InferenceSession.create(onnxPath, sessionOptions(device, threads, gpu));
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    if (device !== 'cpu' && /provider|backend|webgpu|cuda|adapter|vulkan|dawn|not.*(found|available|supported)/i.test(msg) && !/protobuf|parse/i.test(msg)) {
      throw new ZooError('E_DEVICE', `device "${device}" is not available: [${device}] ${firstLine(msg)}`, { file: onnxPath, fix: DEVICE_FIX[device], cause: err });
    }
    throw new ZooError('E_ONNX_CORRUPT', `ONNX Runtime cannot load the model: ${firstLine(msg)}`, {
      file: onnxPath,
      fix: 'the file is corrupt or truncated (interrupted export or copy): re-export it with zoo export, or check the opset against onnxruntime-node\'s',
      cause: err,
    });
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0].slice(0, 300);
}

/** Every declared output must exist in the graph; lists all missing ones at once. */
export function checkOutputs(session: ort.InferenceSession, wanted: readonly string[], onnxPath: string, inputName = 'pixel_values'): void {
  if (!session.inputNames.includes(inputName)) {
    throw new ZooError('E_ONNX_OUTPUT', `the model has no input "${inputName}" (it has ${session.inputNames.join(', ')})`, {
      file: onnxPath,
      fix: `export with the input named "${inputName}" (plugins/_lib does this)`,
    });
  }
  const missing = wanted.filter((o) => !session.outputNames.includes(o));
  if (missing.length) {
    throw new ZooError('E_ONNX_OUTPUT', `the model lacks output${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} declared in plugin.json`, {
      file: onnxPath,
      found: { outputs: session.outputNames },
      fix: 're-export so that every block is an output, or fix the layers\' "output" names in plugin.json',
    });
  }
}

export { ort };
