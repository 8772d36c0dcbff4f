/**
 * Procedural stimulus images for planted brains: a colour gradient background, oriented
 * gratings (texture), and a few filled shapes at random places. Enough variety that every
 * backbone layer's local and global features vary across images and across image positions,
 * which is what lets a fit tell layers, positions and scales apart.
 */
import { Rng } from '../data/random.js';

export interface SynthImage {
  width: number;
  height: number;
  /** RGB, 8 bits, row-major. */
  rgb: Uint8Array;
}

function randomColour(rng: Rng): [number, number, number] {
  return [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
}

export function synthImage(rng: Rng, size: number): SynthImage {
  const rgb = new Float32Array(size * size * 3);
  // 1. Linear gradient between two colours in a random direction.
  const a = randomColour(rng);
  const b = randomColour(rng);
  const angle = rng.uniform(0, 2 * Math.PI);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = 0.5 + 0.5 * ((x / size - 0.5) * dx + (y / size - 0.5) * dy) * 1.4;
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) rgb[o + c] = a[c] * (1 - t) + b[c] * t;
    }
  }
  // 2. One or two gratings inside soft discs (texture patches).
  const gratings = 1 + rng.int(2);
  for (let g = 0; g < gratings; g++) {
    const cx = rng.uniform(0, size);
    const cy = rng.uniform(0, size);
    const radius = rng.uniform(0.15, 0.5) * size;
    const freq = rng.uniform(1.5, 8) / size;
    const theta = rng.uniform(0, Math.PI);
    const amp = rng.uniform(30, 90);
    const tint = randomColour(rng).map((v) => v / 255);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const d2 = ((x - cx) ** 2 + (y - cy) ** 2) / radius ** 2;
        if (d2 > 1) continue;
        const w = amp * (1 - d2) * Math.sin(2 * Math.PI * freq * ((x - cx) * Math.cos(theta) + (y - cy) * Math.sin(theta)));
        const o = (y * size + x) * 3;
        for (let c = 0; c < 3; c++) rgb[o + c] += w * tint[c];
      }
    }
  }
  // 3. Filled shapes: discs, rectangles, triangles.
  const shapes = 1 + rng.int(4);
  for (let s = 0; s < shapes; s++) {
    const kind = rng.int(3);
    const colour = randomColour(rng);
    const cx = rng.uniform(0.1, 0.9) * size;
    const cy = rng.uniform(0.1, 0.9) * size;
    const r = rng.uniform(0.06, 0.25) * size;
    const rot = rng.uniform(0, Math.PI);
    const inside = (x: number, y: number): boolean => {
      const u = (x - cx) * Math.cos(rot) + (y - cy) * Math.sin(rot);
      const v = -(x - cx) * Math.sin(rot) + (y - cy) * Math.cos(rot);
      if (kind === 0) return u * u + v * v <= r * r;
      if (kind === 1) return Math.abs(u) <= r && Math.abs(v) <= r * 0.6;
      return v >= -r * 0.5 && Math.abs(u) <= (r - v) * 0.6 && v <= r;
    };
    for (let y = Math.max(0, Math.floor(cy - 1.5 * r)); y < Math.min(size, Math.ceil(cy + 1.5 * r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - 1.5 * r)); x < Math.min(size, Math.ceil(cx + 1.5 * r)); x++) {
        if (!inside(x + 0.5, y + 0.5)) continue;
        const o = (y * size + x) * 3;
        for (let c = 0; c < 3; c++) rgb[o + c] = colour[c];
      }
    }
  }
  // 4. A little pixel noise.
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(rgb[i] + rng.gaussian(0, 4))));
  return { width: size, height: size, rgb: out };
}
