/** The name a dropped file is recorded under: its path inside a dropped folder (as the CLI records it), else its name. */
export function sourceName(file: File): string {
  return file.webkitRelativePath || file.name;
}

/** Files in a drop, folders included (walked recursively); each named by its path inside the drop. */
export async function filesFromDrop(data: DataTransfer): Promise<File[]> {
  const entries = [...data.items].map((item) => (item.kind === 'file' ? item.webkitGetAsEntry?.() : null));
  if (entries.some((e) => e?.isDirectory)) {
    const out: File[] = [];
    for (const entry of entries) if (entry) await walk(entry, '', out);
    return out;
  }
  return [...data.files];
}

async function walk(entry: FileSystemEntry, parent: string, out: File[]): Promise<void> {
  const path = parent ? `${parent}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    // Keep the folder path as the source name; the File's bytes still stream from disk.
    Object.defineProperty(file, 'webkitRelativePath', { value: path });
    out.push(file);
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const child of batch) await walk(child, path, out);
  }
}
