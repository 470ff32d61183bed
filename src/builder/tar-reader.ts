/**
 * A small streaming tar reader for build contexts: ustar, GNU long names and PAX headers, file
 * bodies handed over as slices of the chunks that came in (never copied, never re-streamed), so a
 * body the builder already has costs nothing but the arithmetic to skip it. An archive may end at
 * an entry boundary without its two zero blocks: the docker CLI sends such tars, and Go's reader
 * takes them as complete.
 */
import { invalid } from '../errors';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'other';

export interface TarEntryHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  size: number;
  linkname: string;
}

/** What receives one entry's body; `data` may return a promise to slow the reader down. */
export interface EntrySink {
  data(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

const BLOCK = 512;
const MAX_META = 1 << 20;

/**
 * Reads a tar from an async source. Each chunk is pushed through a TarParser, which awaits
 * nothing unless an entry's sink asks it to.
 */
export async function readTar(source: AsyncIterable<Buffer>, onEntry: (h: TarEntryHeader) => EntrySink | undefined): Promise<void> {
  const parser = new TarParser(onEntry);
  for await (const chunk of source) {
    const p = parser.push(chunk);
    if (p) await p;
  }
  parser.end();
}

/**
 * The tar state machine, fed chunk by chunk. push() runs synchronously and returns a promise only
 * when a sink returned one (it then goes on with the rest of the chunk once that settles), so a
 * large body costs a call per chunk and no microtask.
 */
export class TarParser {
  private header: Buffer = Buffer.alloc(0);
  /** Body bytes of the current entry still to come, then its padding. */
  private remaining = 0;
  private padding = 0;
  private sink: EntrySink | undefined;
  private meta: { kind: 'pax' | 'gnu-name' | 'gnu-link' | 'skip'; parts: Buffer[] } | undefined;
  private pax: Record<string, string> = {};
  private longName: string | undefined;
  private longLink: string | undefined;
  private ended = false;
  private zeroBlocks = 0;

  constructor(private readonly onEntry: (h: TarEntryHeader) => EntrySink | undefined) {}

  push(chunk: Buffer): Promise<void> | undefined {
    while (chunk.length > 0 && !this.ended) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length);
        const piece = chunk.subarray(0, take);
        chunk = chunk.subarray(take);
        this.remaining -= take;
        let p: void | Promise<void> = undefined;
        if (this.meta) this.meta.parts.push(Buffer.from(piece));
        else if (this.sink) p = this.sink.data(piece);
        if (this.remaining === 0) p = p ? p.then(() => this.finishEntry()) : this.finishEntry();
        if (p) {
          const rest = chunk;
          return p.then(() => this.push(rest));
        }
        continue;
      }
      if (this.padding > 0) {
        const take = Math.min(this.padding, chunk.length);
        chunk = chunk.subarray(take);
        this.padding -= take;
        continue;
      }
      const need = BLOCK - this.header.length;
      this.header = this.header.length === 0 && chunk.length >= BLOCK ? chunk.subarray(0, BLOCK) : Buffer.concat([this.header, chunk.subarray(0, need)]);
      chunk = chunk.subarray(Math.min(need, chunk.length));
      if (this.header.length < BLOCK) continue;
      const block = this.header;
      this.header = Buffer.alloc(0);
      if (block.every((b) => b === 0)) {
        if (++this.zeroBlocks === 2) this.ended = true;
        continue;
      }
      this.zeroBlocks = 0;
      const p = this.startEntry(block);
      if (p) {
        const rest = chunk;
        return p.then(() => this.push(rest));
      }
    }
    return undefined;
  }

  /** The source ended: it must have ended between entries. */
  end(): void {
    if (this.remaining > 0 || this.meta || this.sink) throw invalid('unexpected end of the tar archive inside an entry');
    if (this.header.length > 0) throw invalid('unexpected end of the tar archive inside a header');
  }

  private finishEntry(): void | Promise<void> {
    const meta = this.meta;
    if (meta) {
      const body = Buffer.concat(meta.parts);
      if (meta.kind === 'pax') this.pax = { ...this.pax, ...parsePax(body) };
      else if (meta.kind === 'gnu-name') this.longName = cstring(body);
      else if (meta.kind === 'gnu-link') this.longLink = cstring(body);
      this.meta = undefined;
      return undefined;
    }
    const sink = this.sink;
    this.sink = undefined;
    return sink?.end();
  }

  private startEntry(block: Buffer): void | Promise<void> {
    if (!verifyChecksum(block)) throw invalid('invalid tar header: checksum mismatch');
    const flag = String.fromCharCode(block[156] || 0x30);
    const size = numeric(block, 124, 12);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META) throw invalid('invalid tar header: extended header too large');
      this.meta = { kind: flag === 'x' ? 'pax' : flag === 'L' ? 'gnu-name' : flag === 'K' ? 'gnu-link' : 'skip', parts: [] };
      this.remaining = size;
      this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
      return this.remaining === 0 ? this.finishEntry() : undefined;
    }
    const pax = this.pax;
    const magic = block.toString('latin1', 257, 263);
    const prefix = magic.startsWith('ustar') ? cstring(block.subarray(345, 500)) : '';
    let name = this.longName ?? pax.path ?? (prefix ? `${prefix}/${cstring(block.subarray(0, 100))}` : cstring(block.subarray(0, 100)));
    const linkname = this.longLink ?? pax.linkpath ?? cstring(block.subarray(157, 257));
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    const type: TarEntryType = flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'directory' : flag === '2' ? 'symlink' : flag === '1' ? 'link' : 'other';
    if (type === 'file' && name.endsWith('/')) name = name.slice(0, -1);
    const h: TarEntryHeader = {
      name,
      type,
      mode: numeric(block, 100, 8),
      uid: pax.uid !== undefined ? Number(pax.uid) : numeric(block, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : numeric(block, 116, 8),
      mtime: new Date((pax.mtime !== undefined ? Number(pax.mtime) : numeric(block, 136, 12)) * 1000),
      size: type === 'file' ? realSize : 0,
      linkname,
    };
    this.pax = {};
    this.longName = undefined;
    this.longLink = undefined;
    // Only regular files have bodies worth reading; other types' sizes are skipped.
    const bodySize = type === 'file' || type === 'other' ? realSize : 0;
    this.remaining = bodySize;
    this.padding = (BLOCK - (bodySize % BLOCK)) % BLOCK;
    const sink = this.onEntry(h);
    this.sink = type === 'file' ? sink : undefined;
    return this.remaining === 0 ? this.finishEntry() : undefined;
  }
}

function cstring(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end);
}

/** An octal field, or GNU's base-256 for big numbers. */
function numeric(block: Buffer, offset: number, length: number): number {
  if (block[offset] & 0x80) {
    let n = 0;
    for (let i = offset + 1; i < offset + length; i++) n = n * 256 + block[i];
    return n;
  }
  const s = block.toString('latin1', offset, offset + length).replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalid(`invalid tar header: bad number ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function verifyChecksum(block: Buffer): boolean {
  const stored = numeric(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === stored;
}

/** PAX records: "<len> <key>=<value>\n". */
function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(body.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length) throw invalid('invalid tar header: bad PAX record');
    const record = body.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}
