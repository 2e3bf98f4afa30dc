// `npm run s3:local`: a throwaway S3 server on 127.0.0.1 with a bucket `cache-admin` until Ctrl+C,
// which stops it and deletes its data. Ceph RGW where radosgw is installed (scripts/rgw.mjs), else
// the s3rver emulator (scripts/s3-emulator.mjs). `-- --emulator` picks the emulator anyway.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { rgwInstalled, startRgw } from './rgw.mjs';

const BUCKET = 'cache-admin';
const { values } = parseArgs({ options: { emulator: { type: 'boolean' } } });

function announce(name, endpoint, { accessKeyId, secretAccessKey }) {
  const keys = `AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey}`;
  console.log(`${name} on ${endpoint}, bucket ${BUCKET} (Ctrl+C stops it and deletes its data)`);
  console.log(`Credentials: ${keys}`);
  console.log(`Try: ${keys} npm run --silent cli -- --s3-bucket ${BUCKET} --s3-endpoint ${endpoint} --s3-path-style capabilities`);
}

/** Runs `stop` once on Ctrl+C or SIGTERM, then exits. */
function stopOnSignal(stop) {
  let stopping = false;
  const onSignal = async () => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping…');
    await stop();
    process.exit(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (rgwInstalled() && !values.emulator) {
  console.log('Starting a single-host Ceph RGW…');
  const rgw = await startRgw({ buckets: [BUCKET] });
  stopOnSignal(rgw.stop);
  setInterval(() => {}, 1 << 30); // the daemons run on their own: this process waits for Ctrl+C
  announce(`${rgw.name} (started in ${(rgw.startupMs / 1000).toFixed(1)} s)`, rgw.endpoint, rgw.credentials);
} else {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cache-admin-s3rver-'));
  // s3rver encrypts listing tokens with DES, which OpenSSL 3 offers only through its legacy provider.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', path.join(import.meta.dirname, 's3-emulator.mjs'), '--dir', dir, '--bucket', BUCKET, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  stopOnSignal(async () => {
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  });
  const line = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  announce(values.emulator ? 'S3 emulator (s3rver)' : 'S3 emulator (s3rver; radosgw is not installed)', JSON.parse(line).endpoint, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
}
