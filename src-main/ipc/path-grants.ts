import { lstat, realpath } from 'node:fs/promises';
import * as path from 'node:path';
import { CacheError } from '../../src-shared/errors';

/** Kernel and device trees: their "files" are process state (environ, memory) or devices, never content. */
const SYSTEM_ROOTS = process.platform === 'win32' ? [] : ['/proc', '/sys', '/dev'];

export interface ReadableFile {
  /** The file's real path (no symlink left in it): what main actually opens. */
  path: string;
  size: number;
}

/** True when `child` is `dir` or inside it. */
function within(child: string, dir: string): boolean {
  const rel = path.relative(dir, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The files main may read for a window: only what the operator chose (a drop or a native file dialog;
 * the Electron adapter calls `grant`), a file or anything under a chosen folder, and never the app's
 * own data folder, a kernel tree, a device, a socket or a FIFO, whatever symlink leads there.
 */
export class PathGrants {
  private readonly granted = new Set<string>();

  /** `protectedDirs`: the app's own data (profiles, keyring files), never read for a window. */
  constructor(private readonly protectedDirs: readonly string[]) {}

  grant(chosen: string): void {
    if (path.isAbsolute(chosen)) this.granted.add(path.resolve(chosen));
  }

  /** The chosen file behind `file`, or a typed refusal; reads nothing but metadata. */
  async check(file: string): Promise<ReadableFile> {
    const given = path.resolve(file);
    // Looked up before touching the disk, so a window cannot probe which paths exist.
    const grant = this.grantCovering(given);
    if (!grant) throw new CacheError('access_denied', `${file} was not chosen in this window: drop it or pick it in a file dialog`);
    const real = await realpath(given).catch(() => {
      throw new CacheError('not_found', `cannot read ${file}`);
    });
    const realGrant = await realpath(grant).catch(() => grant);
    if (!within(real, realGrant)) throw new CacheError('access_denied', `${file} is a link to outside what was chosen`);
    for (const dir of [...SYSTEM_ROOTS, ...this.protectedDirs]) {
      const realDir = await realpath(dir).catch(() => path.resolve(dir));
      if (within(real, realDir)) throw new CacheError('access_denied', `${file} is in ${dir}, which the app never reads for a window`);
    }
    const info = await lstat(real);
    if (!info.isFile()) throw new CacheError('invalid_input', `${file} is not a regular file`);
    return { path: real, size: info.size };
  }

  /** The chosen path that is `file` or one of its folders (a walk up: one lookup per level). */
  private grantCovering(file: string): string | null {
    for (let at = file; ; at = path.dirname(at)) {
      if (this.granted.has(at)) return at;
      if (path.dirname(at) === at) return null;
    }
  }
}
