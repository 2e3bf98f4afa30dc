// A throwaway single-host Ceph RADOS Gateway (the S3 server of Ceph) on 127.0.0.1, for tests, the
// benchmarks and `npm run s3:local`: one monitor, one OSD keeping its data in memory, one gateway;
// no manager, no systemd, no cephx (auth none), everything under one folder that stop() deletes.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BINARIES = ['monmaptool', 'ceph-mon', 'ceph', 'ceph-osd', 'radosgw', 'radosgw-admin'];
/** Daemons in the order they must stop: a gateway whose OSD is gone hangs at exit. */
const STOP_ORDER = ['rgw', 'osd', 'mon'];
/** A Unix socket path holds at most 107 bytes. */
const MAX_SOCKET_PATH = 107;
const START_TIMEOUT_MS = 60_000;

/** Whether the Ceph packages that run a gateway are installed (ceph-mon ceph-osd radosgw ceph-common). */
export function rgwInstalled() {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return BINARIES.every((bin) => dirs.some((dir) => isExecutable(path.join(dir, bin))));
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** "Ceph RGW 16.2", from the installed radosgw. */
export function rgwName() {
  return nameOf(execFileSync('radosgw', ['--version'], { encoding: 'utf8' }));
}

function nameOf(versionText) {
  const version = /ceph version (\d+\.\d+)/.exec(versionText)?.[1] ?? 'unknown version';
  return `Ceph RGW ${version}`;
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function config({ dir, fsid, monPort, rgwPort }) {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# No cephx; then the clients must use crc mode too, or radosgw retries authentication forever.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
mon warn on insecure global id reclaim allowed = false
# One OSD: one copy, few placement groups, all on this host.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# Without this the first pool creations wait ~1 s each (the first start takes ~15 s longer).
paxos propose interval = 0.05
# The monitor refuses to start on a disk fuller than 95% (warns at 70%): this is throwaway data.
mon data avail warn = 1
mon data avail crit = 0
osd objectstore = memstore
memstore device bytes = 8589934592
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
log to stderr = false
crash dir = ${dir}/log
mon data = ${dir}/mon
osd data = ${dir}/osd
rgw data = ${dir}/rgw
# Without tcp_nodelay each keep-alive response can wait ~40 ms for a delayed ACK.
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
# Deleted objects' data is collected within seconds, not hours.
rgw gc obj min wait = 2
rgw gc processor period = 2
rgw gc processor max time = 2
`;
}

/**
 * Starts a cluster in `dir` (made if absent; deleted by stop). Its state (endpoint, keys, daemon
 * pids) is written to `<dir>/cluster.json` as it starts, so another process can stop it: stopRgw(dir).
 * Each bucket in `buckets` is created.
 */
export async function startRgw({ dir, buckets = [] } = {}) {
  dir ??= await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-rgw-'));
  await fs.mkdir(dir, { recursive: true });
  if (path.join(dir, 'run/client.admin.asok').length > MAX_SOCKET_PATH) {
    throw new Error(`${dir} is too long a path for the daemons' admin sockets (at most ${MAX_SOCKET_PATH} bytes): use a shorter TMPDIR`);
  }
  const started = performance.now();
  const state = {
    endpoint: '',
    credentials: { accessKeyId: `RGW${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') },
    name: '',
    pids: {},
  };
  const version = run('radosgw', ['--version']); // slow to answer: asked while the cluster starts
  version.catch(() => undefined);
  const saveState = () => fs.writeFile(path.join(dir, 'cluster.json'), JSON.stringify(state));
  try {
    for (const sub of ['run', 'log', 'mon', 'osd', 'rgw']) await fs.mkdir(path.join(dir, sub), { recursive: true });
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    const conf = path.join(dir, 'ceph.conf');
    await fs.writeFile(conf, config({ dir, fsid, monPort, rgwPort }));
    const c = ['-c', conf];
    const monmap = path.join(dir, 'monmap');
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, monmap]);
    const osdmap = path.join(dir, 'osdmap');
    // The first map already holds OSD 0: no round trip through the (slow to start) ceph CLI to add it.
    await run('osdmaptool', [...c, '--createsimple', '1', '--fsid', fsid, osdmap]);
    await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', monmap, '--osdmap', osdmap]);
    const exited = [];
    const daemon = async (name, bin, args) => {
      const out = openSync(path.join(dir, 'log', `${name}.out`), 'w');
      const child = spawn(bin, [...c, '-f', ...args], { detached: true, stdio: ['ignore', out, out] });
      closeSync(out);
      child.unref();
      // A daemon that dies while the cluster starts fails the start with its log, not with a timeout.
      exited.push(new Promise((_, reject) => child.once('exit', (code, signal) => reject(new Error(`${bin} exited (${signal ?? code}) while starting:\n${logTail(dir, name)}`)))));
      exited.at(-1).catch(() => undefined);
      state.pids[name] = child.pid;
      await saveState();
    };
    const orDaemonDied = (promise) => Promise.race([promise, ...exited]);
    await daemon('mon', 'ceph-mon', ['-i', 'a']);
    const osdUuid = randomUUID();
    // Registers the OSD (waiting for the monitor to answer), then makes its in-memory store.
    await orDaemonDied(run('ceph', [...c, '--connect-timeout', '30', 'osd', 'new', osdUuid]));
    await run('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    await daemon('osd', 'ceph-osd', ['-i', '0']);
    await daemon('rgw', 'radosgw', ['-n', 'client.rgw']);
    const { accessKeyId, secretAccessKey } = state.credentials;
    await orDaemonDied(run('radosgw-admin', [...c, 'user', 'create', '--uid', 'cache-admin', '--display-name', 'cache-admin', '--access-key', accessKeyId, '--secret-key', secretAccessKey]));
    state.name = nameOf((await version).stdout);
    state.endpoint = `http://127.0.0.1:${rgwPort}`;
    await orDaemonDied(waitForHttp(state.endpoint));
    await orDaemonDied(createBuckets(state, buckets));
    await saveState();
    return { ...state, dir, startupMs: Math.round(performance.now() - started), stop: () => stopRgw(dir) };
  } catch (err) {
    await stopRgw(dir);
    throw err;
  }
}

function logTail(dir, name) {
  for (const file of [`${name}.out`, name === 'rgw' ? 'client.rgw.log' : name === 'mon' ? 'mon.a.log' : 'osd.0.log']) {
    try {
      const text = readFileSync(path.join(dir, 'log', file), 'utf8').trim();
      if (text) return text.split('\n').slice(-15).join('\n');
    } catch {
      // not written yet
    }
  }
  return '(no log)';
}

async function waitForHttp(endpoint) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the gateway did not answer on ${endpoint} within ${START_TIMEOUT_MS / 1000} s (${err.message})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Creates each bucket; one that exists already is fine. */
export async function createBuckets({ endpoint, credentials }, buckets) {
  if (buckets.length === 0) return;
  // Loaded here: the test run's global setup imports this file and must stay quick.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // as in s3.ts
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials });
  try {
    for (const Bucket of buckets) {
      await client.send(new CreateBucketCommand({ Bucket })).catch((err) => {
        if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
      });
    }
  } finally {
    client.destroy();
  }
}

/** The running cluster's state (endpoint, credentials, name), or null when there is none in `dir`. */
export async function readRgw(dir) {
  const state = await readState(dir);
  return state?.endpoint ? state : null;
}

async function readState(dir) {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, 'cluster.json'), 'utf8'));
  } catch {
    return null; // not started, or its start failed before the first daemon
  }
}

/**
 * Stops the cluster in `dir` (gateway, then OSD, then monitor) and deletes the folder. Only
 * processes whose command line names this cluster's config are signalled; zombies count as gone.
 */
export async function stopRgw(dir) {
  const pids = (await readState(dir))?.pids ?? {};
  const conf = path.join(dir, 'ceph.conf');
  for (const name of STOP_ORDER) {
    const pid = pids[name];
    if (!pid || !isOurs(pid, conf)) continue;
    process.kill(pid, 'SIGTERM');
    if (!(await gone(pid, 10_000))) {
      process.kill(pid, 'SIGKILL');
      await gone(pid, 5_000);
    }
  }
  await fs.rm(dir, { recursive: true, force: true });
}

function isOurs(pid, conf) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(conf) && !isZombie(pid);
  } catch {
    return false;
  }
}

function isZombie(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // no such process
  }
}

async function gone(pid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!isZombie(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
