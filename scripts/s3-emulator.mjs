// An S3-compatible server (s3rver) on 127.0.0.1, for tests and `npm run s3:local`.
// Run with --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES,
// which OpenSSL 3 only offers through its legacy provider (without it, paging fails with 500).
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';
import S3Object from 's3rver/lib/models/object.js';

// s3rver 3.7.1 prunes folders below a common prefix before it has seen any key in them, so a
// delimited listing misses every prefix whose keys sit two or more levels down (all of ours).
// Fold the full listing ourselves instead; delimited pages are returned whole (never truncated).
const listObjects = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function (bucket, options = {}) {
  if (!options.delimiter) return listObjects.call(this, bucket, options);
  const prefix = options.prefix ?? '';
  const all = await listObjects.call(this, bucket, { ...options, delimiter: '', maxKeys: Infinity });
  const objects = [];
  const commonPrefixes = new Set();
  for (const object of all.objects) {
    const at = object.key.indexOf(options.delimiter, prefix.length);
    if (at === -1) objects.push(object);
    else commonPrefixes.add(object.key.slice(0, at + 1));
  }
  return { objects, commonPrefixes: [...commonPrefixes], isTruncated: false };
};

// s3rver writes objects, parts and metadata in place and answers before its file is complete, and
// a GET stats one file and then opens whatever is at that path by then. S3 replaces objects
// atomically and a GET reads one version whole, so: every write goes to a temp file that is renamed
// into place once complete, and a GET reads the size from the very file it streams.
async function writeAtomically(target, source) {
  const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`; // not an object: no listing shows it
  for (let attempt = 0; ; attempt++) {
    const md5 = createHash('md5');
    let size = 0;
    const count = async function* (chunks) {
      for await (const chunk of chunks) {
        md5.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    };
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await pipeline(Buffer.isBuffer(source) ? Readable.from([source]) : source, count, createWriteStream(temp));
      await rename(temp, target);
      return { size, md5: md5.digest('hex') };
    } catch (err) {
      await rm(temp, { force: true });
      // A delete of the folder's last object may remove the folder between mkdir and open.
      if (err.code !== 'ENOENT' || attempt > 2 || !Buffer.isBuffer(source)) throw err;
    }
  }
}

FilesystemStore.prototype.putObject = async function (object) {
  const target = this.getResourcePath(object.bucket, object.key, 'object');
  const { size, md5 } = await writeAtomically(target, object.content);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};

FilesystemStore.prototype.putMetadata = async function (bucket, key, metadata, md5) {
  const stored = Object.fromEntries(
    Object.entries(metadata).filter(([name]) => S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')),
  );
  if (md5) await writeAtomically(this.getResourcePath(bucket, key, 'object.md5'), Buffer.from(md5));
  await writeAtomically(this.getResourcePath(bucket, key, 'metadata.json'), Buffer.from(JSON.stringify(stored, null, 2)));
};

FilesystemStore.prototype.putPart = async function (bucket, uploadId, partNumber, content) {
  const partPath = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, partNumber.toString());
  const { size, md5 } = await writeAtomically(partPath, content);
  await writeAtomically(`${partPath}.md5`, Buffer.from(md5));
  return { size, md5 };
};

FilesystemStore.prototype.copyObject = async function (srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  const source = await this.getObject(srcBucket, srcKey);
  if (!source) throw Object.assign(new Error(`no such key ${srcKey}`), { code: 'ENOENT' });
  const target = this.getResourcePath(destBucket, destKey, 'object');
  const { md5 } = await writeAtomically(target, source.content);
  await this.putMetadata(destBucket, destKey, replacementMetadata ?? source.metadata, md5);
  return this.getMetadata(destBucket, destKey);
};

FilesystemStore.prototype.getObject = async function (bucket, key, options) {
  let handle;
  try {
    handle = await open(this.getResourcePath(bucket, key, 'object'), 'r');
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  try {
    const stat = await handle.stat();
    const metadata = { ...(await this.getMetadata(bucket, key)), 'content-length': stat.size, 'last-modified': stat.mtime.toUTCString() };
    const lastByte = Math.max(0, stat.size - 1);
    const ranged = options && (options.start !== undefined || options.end);
    const range = { start: options?.start || 0, end: Math.min(options?.end || Infinity, lastByte) };
    if (range.start < 0 || range.end < range.start) {
      await handle.close();
      const object = new S3Object(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    const object = new S3Object(bucket, key, handle.createReadStream(range), metadata);
    if (ranged) object.range = range;
    return object;
  } catch (err) {
    await handle.close();
    if (err.code === 'ENOENT') return null;
    throw err;
  }
};

// Removing the emptied folders races with writers creating files in them: stop at the first folder
// that is not empty (or already gone) instead of failing the delete.
const deleteObject = FilesystemStore.prototype.deleteObject;
FilesystemStore.prototype.deleteObject = async function (bucket, key) {
  try {
    await deleteObject.call(this, bucket, key);
  } catch (err) {
    if (!['ENOTEMPTY', 'ENOENT', 'EEXIST'].includes(err.code)) throw err;
  }
};

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    port: { type: 'string', default: '4568' },
    bucket: { type: 'string', multiple: true, default: ['cache-admin'] },
    json: { type: 'boolean' },
  },
});
const directory = values.dir ?? '.s3-local';
mkdirSync(directory, { recursive: true });
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(values.port),
  silent: true,
  directory,
  configureBuckets: values.bucket.map((name) => ({ name })),
});
const { address, port } = await server.run();
const endpoint = `http://${address}:${port}`;
if (values.json) {
  console.log(JSON.stringify({ endpoint, directory, buckets: values.bucket }));
} else {
  console.log(`S3-compatible server on ${endpoint} (data in ${directory}), bucket(s): ${values.bucket.join(', ')}`);
  console.log(`Credentials: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER`);
  console.log(
    `Try: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER npm run --silent cli -- --s3-bucket ${values.bucket[0]} --s3-endpoint ${endpoint} --s3-path-style capabilities`,
  );
}
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
