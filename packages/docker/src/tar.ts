// The little of the tar format the engine's archive endpoints need: one archive of regular files to put into
// a container (PUT /containers/{id}/archive), and the content of the one file that GET returns.

const BLOCK = 512;

export interface TarFile {
  /** Relative path inside the archive: `dir/name`, at most 100 bytes. */
  path: string;
  content: Buffer;
  /** Permission bits, e.g. `0o600`. */
  mode: number;
  uid: number;
  gid: number;
}

/** A ustar archive of regular files. Parent directories are not in it (the engine creates missing ones). */
export function tarArchive(files: readonly TarFile[]): Buffer {
  const blocks: Buffer[] = [];
  for (const file of files) {
    blocks.push(header(file));
    blocks.push(file.content);
    const padding = (BLOCK - (file.content.length % BLOCK)) % BLOCK;
    if (padding > 0) blocks.push(Buffer.alloc(padding));
  }
  blocks.push(Buffer.alloc(2 * BLOCK)); // end of archive
  return Buffer.concat(blocks);
}

function header(file: TarFile): Buffer {
  const name = Buffer.from(file.path, 'utf8');
  if (name.length === 0 || name.length > 100) throw new Error(`tar: path ${file.path} is empty or over 100 bytes`);
  const block = Buffer.alloc(BLOCK);
  name.copy(block, 0);
  writeOctal(block, 100, 8, file.mode & 0o7777);
  writeOctal(block, 108, 8, file.uid);
  writeOctal(block, 116, 8, file.gid);
  writeOctal(block, 124, 12, file.content.length);
  writeOctal(block, 136, 12, Math.floor(Date.now() / 1000));
  block.write('        ', 148, 'latin1'); // the checksum counts its own field as spaces
  block.write('0', 156, 'latin1'); // regular file
  block.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return block;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar: ${value} does not fit a ${length}-byte field`);
  block.write(`${digits.padStart(length - 1, '0')}\u0000`, offset, 'latin1');
}

/** The content of the archive's first entry when it is a regular file; `undefined` otherwise. */
export function firstFileOfTar(archive: Buffer): Buffer | undefined {
  if (archive.length < BLOCK) return undefined;
  const type = archive[156];
  if (type !== 0x30 /* '0' */ && type !== 0 /* old tar: regular file */) return undefined;
  const size = Number.parseInt(archive.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
  if (!Number.isSafeInteger(size) || BLOCK + size > archive.length) return undefined;
  return archive.subarray(BLOCK, BLOCK + size);
}
