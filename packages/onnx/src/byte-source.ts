/**
 * Random access to a model's bytes, in memory or in a file, so the model's header fields can be
 * read without loading a large file (its weights) into memory.
 */
import { open } from 'node:fs/promises';

/**
 * Bytes read per file access. Field headers are tiny and read mostly in order, so one read serves
 * many of them; 64 KiB keeps the number of reads low without holding much memory.
 */
const FILE_CHUNK_BYTES = 64 * 1024;

export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes from `offset` (fewer at the end of the source). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function createMemoryByteSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => bytes.subarray(offset, Math.min(offset + length, bytes.length)),
    close: async () => {},
  };
}

/** A file opened for reading; reads go through one cached chunk. Close it when done. */
export async function openFileByteSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  let chunkStart = 0;
  let chunk = new Uint8Array(0);
  return {
    size,
    async read(offset, length) {
      const end = Math.min(offset + length, size);
      if (offset >= chunkStart && end <= chunkStart + chunk.length) {
        return chunk.subarray(offset - chunkStart, end - chunkStart);
      }
      const wanted = Math.max(end - offset, Math.min(FILE_CHUNK_BYTES, size - offset));
      const buffer = new Uint8Array(Math.max(wanted, 0));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      chunkStart = offset;
      chunk = buffer.subarray(0, bytesRead);
      return chunk.subarray(0, Math.max(end - offset, 0));
    },
    close: () => handle.close(),
  };
}
