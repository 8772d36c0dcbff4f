/**
 * Variants that exist only as an ONNX file ("onnxOnly": {"sha256": …} in plugin.json): a
 * contributor who has the exported network but no PyTorch checkpoint. There is nothing to
 * export; the file goes at the variant's onnx path, and every command that uses it (validate,
 * plugins test, bench) checks it against the declared sha256, so that the leaderboard's
 * provenance ("ONNX only (sha256 …)") names the file that was run.
 */
import { existsSync } from 'node:fs';
import { sha256File } from '../core/hash.js';
import type { ResolvedVariant } from './manifest.js';

/** The fix for a missing ONNX-only file: where it goes, and what it is. */
export function onnxOnlyPlaceFix(v: ResolvedVariant): string {
  const o = v.onnxOnly;
  if (!o) return '';
  const what = `${o.file ? ` ${o.file}` : ''}${o.url ? ` (from ${o.url})` : ''}`;
  return `put the ONNX file${what} at ${v.onnxPath} (sha256 ${o.sha256}), or set the variant's "onnx" in ${v.manifestPath} to the path where it is (relative to the plugin folder); there is nothing to export: the variant is ONNX only`;
}

export type OnnxOnlyState =
  | { state: 'not onnx-only' }
  | { state: 'missing' }
  | { state: 'ok'; sha256: string }
  | { state: 'mismatch'; sha256: string; declared: string };

/** Whether an ONNX-only variant's file is there and is the declared one (hashes the file). */
export function onnxOnlyState(v: ResolvedVariant): OnnxOnlyState {
  if (!v.onnxOnly) return { state: 'not onnx-only' };
  if (!existsSync(v.onnxPath)) return { state: 'missing' };
  const sha256 = sha256File(v.onnxPath);
  return sha256 === v.onnxOnly.sha256 ? { state: 'ok', sha256 } : { state: 'mismatch', sha256, declared: v.onnxOnly.sha256 };
}

/** Problem and fix for a file whose sha256 is not the declared one. */
export function onnxOnlyMismatch(v: ResolvedVariant, s: { sha256: string; declared: string }): { message: string; fix: string } {
  return {
    message: `the ONNX file ${v.onnxPath} has sha256 ${s.sha256}, but plugin.json declares ${s.declared} for ONNX-only variant "${v.name}"`,
    fix: `put the declared file there; or, if this file is the one you mean (re-exported on purpose), set "onnxOnly": {"sha256": "${s.sha256}"} for "${v.name}" in ${v.manifestPath}`,
  };
}
