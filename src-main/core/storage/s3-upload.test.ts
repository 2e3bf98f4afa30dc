import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadContent, type UploadRequest } from './s3-upload';

const PART = 5 << 20;
const made: string[] = [];
afterAll(async () => Promise.all(made.map((d) => fs.rm(d, { recursive: true, force: true }))));

async function fileOf(data: Uint8Array): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-upload-'));
  made.push(dir);
  await fs.writeFile(path.join(dir, 'f'), data);
  return path.join(dir, 'f');
}

/** A stand-in S3 client recording each command; `failPart` makes that part's upload fail. */
function fakeS3(options: { failPart?: number } = {}) {
  const calls: { command: string; input: Record<string, unknown> }[] = [];
  const parts = new Map<number, Uint8Array>();
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name;
      calls.push({ command: name, input: command.input });
      if (name === 'CreateMultipartUploadCommand') return { UploadId: 'u1' };
      if (name !== 'UploadPartCommand') return {};
      const n = command.input.PartNumber as number;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Each part is held until another is sent beside it (or 200 ms, for a last part alone), so
      // the count of parts in flight does not depend on how fast this machine reads the next one.
      for (const started = Date.now(); maxInFlight < 2 && Date.now() - started < 200; ) await new Promise((r) => setTimeout(r, 1));
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      if (n === options.failPart) throw Object.assign(new Error('connection reset'), { name: 'ECONNRESET' });
      parts.set(n, Uint8Array.from(command.input.Body as Uint8Array)); // a copy: the buffer is reused
      return { ETag: `"e${n}"` };
    },
  };
  const assembled = () => Buffer.concat([...parts.keys()].sort((a, b) => a - b).map((n) => parts.get(n)!));
  return { client: client as unknown as S3Client, calls, assembled, maxInFlight: () => maxInFlight, names: () => calls.map((c) => c.command) };
}

function request(client: S3Client, data: Uint8Array, body: UploadRequest['body'], queueSize = 2): UploadRequest {
  return { client, bucket: 'b', key: 'k', body, size: data.byteLength, sha256: createHash('sha256').update(data).digest('hex'), partSize: PART, queueSize };
}

describe('S3 upload', () => {
  it('uploads a file in order-independent parts from queueSize reused buffers, with progress', async () => {
    const data = randomBytes(8 * PART + 123);
    const s3 = fakeS3();
    const progress: number[] = [];
    await uploadContent({ ...request(s3.client, data, { file: await fileOf(data) }), onProgress: (n) => progress.push(n) });
    expect(s3.assembled().equals(data)).toBe(true);
    expect(s3.maxInFlight()).toBe(2);
    const bodies = s3.calls.filter((c) => c.command === 'UploadPartCommand').map((c) => (c.input.Body as Uint8Array).buffer);
    expect(bodies).toHaveLength(9);
    expect(new Set(bodies).size).toBe(2); // memory is queueSize x partSize, whatever the size
    const complete = s3.calls.at(-1)!;
    expect(complete.command).toBe('CompleteMultipartUploadCommand');
    expect((complete.input.MultipartUpload as { Parts: { PartNumber: number }[] }).Parts.map((p) => p.PartNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(progress.at(-1)).toBe(data.byteLength);
  });

  it('puts content of one part in one request', async () => {
    const data = randomBytes(1000);
    const s3 = fakeS3();
    await uploadContent(request(s3.client, data, { file: await fileOf(data) }));
    expect(s3.names()).toEqual(['PutObjectCommand']);
    expect(Buffer.from(s3.calls[0]!.input.Body as Uint8Array).equals(data)).toBe(true);
  });

  it('a file changed since it was hashed fails as a conflict and leaves no parts', async () => {
    for (const size of [1000, 3 * PART]) {
      const data = randomBytes(size);
      const file = await fileOf(data);
      const hashed = request(fakeS3().client, data, { file });
      await fs.writeFile(file, randomBytes(size)); // same size, other bytes
      const s3 = fakeS3();
      await expect(uploadContent({ ...hashed, client: s3.client })).rejects.toMatchObject({ code: 'conflict' });
      expect(s3.names()).not.toContain('PutObjectCommand');
      expect(s3.names()).not.toContain('CompleteMultipartUploadCommand');
      if (size > PART) expect(s3.names().at(-1)).toBe('AbortMultipartUploadCommand');
      await fs.truncate(file, size - 1); // and one that shrank
      await expect(uploadContent({ ...hashed, client: fakeS3().client })).rejects.toMatchObject({ code: 'conflict' });
    }
  });

  it('a failed part stops the upload and aborts it once no part is in flight', async () => {
    const data = randomBytes(6 * PART);
    const s3 = fakeS3({ failPart: 3 });
    await expect(uploadContent(request(s3.client, data, { bytes: data }))).rejects.toMatchObject({ name: 'ECONNRESET' });
    const names = s3.names();
    expect(names.at(-1)).toBe('AbortMultipartUploadCommand');
    expect(names).not.toContain('CompleteMultipartUploadCommand');
    expect(names.filter((n) => n === 'UploadPartCommand').length).toBeLessThan(6); // no new part after the failure
  });
});
