import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferRing } from './buffer-ring';
import { WorkerHash } from './hash-worker';
import { pumpHashed } from './hashing';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** `bytes` as a socket would deliver them: chunks of uneven sizes. */
async function* inChunks(bytes: Uint8Array, sizes: number[]): AsyncIterable<Uint8Array> {
  for (let at = 0, i = 0; at < bytes.byteLength; i++) {
    const n = sizes[i % sizes.length]!;
    yield bytes.slice(at, at + n);
    at += n;
  }
}

describe('hashing streamed content on the hashing thread', () => {
  it('a process whose streamed content failed before its first chunk (a Ctrl+C, bad input) ends: the thread never holds it open', () => {
    const script = `
      import { pumpHashed } from ${JSON.stringify(path.join(import.meta.dirname, 'hashing.ts'))};
      async function* failing() { throw new Error('stopped'); }
      await pumpHashed({ kind: 'stream', stream: failing() }, {}).catch((err) => console.log(err.message));
    `;
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'hash-thread-')), 'failing.mts'); // (run with -e, it ended either way)
    writeFileSync(file, script);
    const run = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 20_000 });
    rmSync(path.dirname(file), { recursive: true });
    expect([run.signal, run.status, run.stdout]).toEqual([null, 0, 'stopped\n']);
  });

  it('two hashes at once, from shared and ordinary chunks, each give the SHA-256 of their own bytes', async () => {
    const ring = new BufferRing(2, 1 << 16);
    const shared = await ring.next();
    shared.set(randomBytes(shared.byteLength));
    const plain = randomBytes(1000);
    const a = new WorkerHash();
    const b = new WorkerHash();
    await Promise.all([a.update(shared), b.update(plain), a.update(plain)]);
    const expectedA = createHash('sha256').update(shared).update(plain).digest('hex');
    expect(await a.digest()).toBe(expectedA);
    expect(await b.digest()).toBe(sha256(plain));
    expect(await new WorkerHash().digest()).toBe(sha256(new Uint8Array(0)));
  });

  it('an upload gathered into the ring is hashed right and handed on in whole buffers, its tail last', async () => {
    const bytes = randomBytes(3 * (1 << 20) + 12_345);
    const ring = new BufferRing(4, 1 << 20);
    const handed: number[] = [];
    const result = await pumpHashed({ kind: 'stream', stream: inChunks(bytes, [65_536, 1, 70_000, 333]) }, { buffers: ring }, (chunk) => {
      expect(ring.starts(chunk)).toBe(true); // written from the ring as it is: no second copy
      handed.push(chunk.byteLength);
    });
    expect(result.sha256).toBe(sha256(bytes));
    expect(result.size).toBe(bytes.byteLength);
    expect(Buffer.from(result.head).equals(bytes.subarray(0, 512))).toBe(true);
    expect(handed).toEqual([1 << 20, 1 << 20, 1 << 20, 12_345]);
  });

  it('a stream that fails part-way fails the hash with its own error, and the next one still works', async () => {
    const broken = (async function* () {
      yield randomBytes(70_000);
      throw new Error('client went away');
    })();
    await expect(pumpHashed({ kind: 'stream', stream: broken }, { buffers: new BufferRing(2, 1 << 16) })).rejects.toThrow('client went away');
    const bytes = randomBytes(200_000);
    expect((await pumpHashed({ kind: 'stream', stream: inChunks(bytes, [65_536]) }, {})).sha256).toBe(sha256(bytes));
  });
});
