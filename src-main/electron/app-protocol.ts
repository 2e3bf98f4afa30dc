import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import mime from 'mime';
import { CONTENT_SECURITY_POLICY } from '../../src-shared/csp';

/** The renderer's own origin: a privileged scheme instead of file://, which every local file shares. */
export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://cache-admin`;
export const APP_PAGE_URL = `${APP_ORIGIN}/index.html`;

/**
 * Standard (a real origin that relative URLs resolve against), secure (a secure context) and
 * fetchable. Never bypassCSP, and never corsEnabled: other origins may not read it.
 */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true } as const;

const RESPONSE_HEADERS = {
  'Content-Security-Policy': `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

/** The file inside `root` that an app:// URL names, or null for anything else (another host, `..`, an absolute path, bad escapes). */
export function rendererFileOf(root: string, requestUrl: string): string | null {
  const url = URL.canParse(requestUrl) ? new URL(requestUrl) : null;
  if (!url || `${url.protocol}//${url.host}` !== APP_ORIGIN) return null;
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname).slice(1) || 'index.html';
  } catch {
    return null;
  }
  const base = path.resolve(root);
  const file = path.resolve(base, relative);
  return relative.includes('\0') || !file.startsWith(base + path.sep) ? null : file;
}

/** The protocol.handle handler for app://: regular files of the built renderer only, with their type and the CSP; 404 otherwise. */
export function appProtocolHandler(root: string): (request: { url: string }) => Promise<Response> {
  return async (request) => {
    const file = rendererFileOf(root, request.url);
    const info = file ? await stat(file).catch(() => null) : null;
    if (!file || !info?.isFile()) return new Response('not found', { status: 404, headers: { ...RESPONSE_HEADERS, 'Content-Type': 'text/plain' } });
    return new Response(await readFile(file), {
      headers: { ...RESPONSE_HEADERS, 'Content-Type': mime.getType(file) ?? 'application/octet-stream' },
    });
  };
}
