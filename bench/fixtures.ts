import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** A deterministic pseudo-random generator (mulberry32), so every run measures the same files. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` files of 200-4,000 random bytes, each distinct. Returns their paths in order. */
export async function writeSmallFiles(dir: string, count: number, seed = 1): Promise<string[]> {
  const random = seeded(seed);
  await fs.mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const size = 200 + Math.floor(random() * 3801);
    const data = Buffer.allocUnsafe(size);
    for (let j = 0; j < size; j++) data[j] = Math.floor(random() * 256);
    const file = path.join(dir, `f${String(i).padStart(6, '0')}.bin`);
    await fs.writeFile(file, data);
    paths.push(file);
  }
  return paths;
}
