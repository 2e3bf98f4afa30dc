/**
 * How the files of a drop travel to the bridge in few requests (`POST /api/batch`): the body is a
 * run of frames, each a header (name length as u32 big-endian, the name in UTF-8, the size as u64
 * big-endian) followed by exactly that many bytes. Small files share a request; a big one has its
 * own, which main streams instead of holding it.
 */

/** Files this size or bigger travel alone (the size the core reads at a time: anything smaller is "small" to the bulk store). */
export const SMALL_FILE_BYTES = 1024 * 1024;
/** A request of small files: at most this many files and bytes (main holds its body until it is checked). */
export const BATCH_MAX_FILES = 512;
export const BATCH_MAX_BYTES = 16 * 1024 * 1024;

const encoder = new TextEncoder();

/** The header of one frame. */
export function frameHeader(name: string, size: number): Uint8Array<ArrayBuffer> {
  const nameBytes = encoder.encode(name);
  const header = new Uint8Array(4 + nameBytes.byteLength + 8);
  const view = new DataView(header.buffer);
  view.setUint32(0, nameBytes.byteLength);
  header.set(nameBytes, 4);
  view.setBigUint64(4 + nameBytes.byteLength, BigInt(size));
  return header;
}

/**
 * Which files go in which request, as indexes in the order given: small files together up to
 * BATCH_MAX_FILES and BATCH_MAX_BYTES, each big file alone.
 */
export function planBatches(sizes: readonly number[]): number[][] {
  const batches: number[][] = [];
  let group: number[] = [];
  let groupBytes = 0;
  sizes.forEach((size, index) => {
    if (size >= SMALL_FILE_BYTES) {
      batches.push([index]);
      return;
    }
    if (group.length >= BATCH_MAX_FILES || groupBytes + size > BATCH_MAX_BYTES) {
      batches.push(group);
      group = [];
      groupBytes = 0;
    }
    group.push(index);
    groupBytes += size;
  });
  if (group.length) batches.push(group);
  return batches;
}
