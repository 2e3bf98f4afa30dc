import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src-shared/csp';
import { APP_SCHEME_PRIVILEGES, appProtocolHandler, rendererFileOf } from './app-protocol';

// A built renderer folder with a secret beside it that no app:// URL may reach.
const dir = mkdtempSync(path.join(tmpdir(), 'app-protocol-'));
const renderer = path.join(dir, 'renderer');
const secret = path.join(dir, 'secret.txt');
mkdirSync(path.join(renderer, 'assets'), { recursive: true });
writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>Cache Admin</title>');
writeFileSync(path.join(renderer, 'assets/index-abc.js'), 'console.log(1)');
writeFileSync(path.join(renderer, 'assets/index-abc.css'), 'body{}');
writeFileSync(secret, 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI');
const serve = appProtocolHandler(renderer);

describe('app:// serves the built renderer', () => {
  it.each([
    ['app://cache-admin/', 'text/html'],
    ['app://cache-admin/index.html', 'text/html'],
    ['app://cache-admin/index.html#/lookup', 'text/html'],
    ['app://cache-admin/assets/index-abc.js', 'text/javascript'],
    ['app://cache-admin/assets/index-abc.css', 'text/css'],
  ])('%s as %s, with the CSP', async (url, type) => {
    const response = await serve({ url });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(type);
    expect(response.headers.get('content-security-policy')).toBe(`${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it.each([
    'app://cache-admin/../../etc/passwd',
    'app://cache-admin/../secret.txt',
    'app://cache-admin/%2e%2e/secret.txt',
    'app://cache-admin/%2e%2e%2fsecret.txt',
    'app://cache-admin/..%2fsecret.txt',
    'app://cache-admin/assets/..%2f..%2fsecret.txt',
    'app://cache-admin/..%5csecret.txt',
    'app://cache-admin/<the secret file\'s absolute path, encoded>',
    'app://cache-admin/<the secret file\'s absolute path>',
    'app://cache-admin//etc/passwd',
    'app://cache-admin/%2fetc%2fpasswd',
    'app://cache-admin/index.html%00.png',
    'app://cache-admin/%',
    'app://cache-admin/%E0%A4%A',
    'app://cache-admin/assets',
    'app://cache-admin/missing.js',
    'app://other-host/index.html',
    'file:///etc/passwd',
    'not a url',
  ])('answers 404 to %s', async (url) => {
    const response = await serve({ url: url.replace('<the secret file\'s absolute path, encoded>', encodeURIComponent(secret)).replace('<the secret file\'s absolute path>', secret) });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('not found');
  });

  it('resolves only inside the renderer folder', () => {
    expect(rendererFileOf(renderer, 'app://cache-admin/assets/index-abc.js')).toBe(path.join(renderer, 'assets/index-abc.js'));
    expect(rendererFileOf(renderer, 'app://cache-admin/%2e%2e%2fsecret.txt')).toBeNull();
    expect(rendererFileOf(renderer, `app://cache-admin/${encodeURIComponent(secret)}`)).toBeNull();
  });

  it('registers a standard, secure scheme that neither bypasses the CSP nor opens itself to other origins', () => {
    expect(APP_SCHEME_PRIVILEGES).toEqual({ standard: true, secure: true, supportFetchAPI: true });
  });
});
