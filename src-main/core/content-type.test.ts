import mime from 'mime';
import { describe, expect, it } from 'vitest';
import { contentTypeOfName } from './content-type';

describe('contentTypeOfName', () => {
  // Names whose type `mime` decides by its own rules: folders, dot names, bare words, case, odd dots.
  const names = ['a.txt', 'A.TXT', 'dir/a.json', 'dir.d/file', 'dir\\win.PNG', 'a.b\\file', 'a.', 'a..', '.bashrc', 'dir/.bashrc', '.a.txt', 'txt', 'README', 'a.b.c.png', 'x.unknownext', 'a.tar.gz', 'dir/', '', 'photo.JpEg', `a.${'x'.repeat(40)}`];

  it('answers what mime answers for every name, the first time and from its table after', () => {
    for (const pass of ['first', 'again']) {
      for (const name of names) expect(contentTypeOfName(name), `${pass}: ${JSON.stringify(name)}`).toBe(name ? mime.getType(name) : null);
    }
  });
});
