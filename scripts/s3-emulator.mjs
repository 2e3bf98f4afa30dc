// An S3-compatible server (s3rver) on 127.0.0.1, for tests and `npm run s3:local`.
// Run with --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES,
// which OpenSSL 3 only offers through its legacy provider (without it, paging fails with 500).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';

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

// s3rver answers a PUT with an in-memory body before the bytes reach its file, and writes in place:
// a GET right after (or during) an overwrite can read a short file. S3 replaces objects atomically,
// so write to a temp file and rename, and answer only once that is done.
const putObject = FilesystemStore.prototype.putObject;
FilesystemStore.prototype.putObject = async function (object) {
  if (!Buffer.isBuffer(object.content)) return putObject.call(this, object);
  const target = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`; // not an object: no listing shows it
  await writeFile(temp, object.content);
  await rename(temp, target);
  const md5 = createHash('md5').update(object.content).digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: object.content.length, md5 };
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
