/** Test helper: a whole tar's members (the entries browser's bulk download). */
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

/** Each member's header and bytes as text, in order. */
export async function tarEntries(bytes: Uint8Array): Promise<{ header: tar.Header; text: string }[]> {
  const out: { header: tar.Header; text: string }[] = [];
  const extract = tar.extract();
  Readable.from([bytes]).pipe(extract);
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const chunk of entry) parts.push(chunk as Buffer);
    out.push({ header: entry.header, text: Buffer.concat(parts).toString() });
  }
  return out;
}

/** The members as text by name. */
export async function tarMembers(bytes: Uint8Array): Promise<Record<string, string>> {
  return Object.fromEntries((await tarEntries(bytes)).map(({ header, text }) => [header.name, text]));
}
