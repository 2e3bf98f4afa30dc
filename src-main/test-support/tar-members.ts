/** Test helper: a whole tar's members, as text by name (the entries browser's bulk download). */
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

export async function tarMembers(bytes: Uint8Array): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const extract = tar.extract();
  Readable.from([bytes]).pipe(extract);
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const chunk of entry) parts.push(chunk as Buffer);
    out[entry.header.name] = Buffer.concat(parts).toString();
  }
  return out;
}
