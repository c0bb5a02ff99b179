// A safetensors writer and a defensive reader (own implementation, written from the format's
// description: no well-kept npm package exists, and the format is small).
//
// Layout: an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON (an object;
// padded at its end with spaces so that N is a multiple of 8, as the reference writer does), then the
// data region. The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}, offsets
// relative to the start of the data region, row-major little-endian data; the optional key
// "__metadata__" holds a string -> string map. The reader refuses, before returning anything, every
// file whose header does not describe the data region exactly (no overlaps, no holes, no trailing bytes).
import { nodeFs } from './node.js';

export type SafetensorsDType = 'F32' | 'I32' | 'I64';
export type SafetensorsData = Float32Array | Int32Array | BigInt64Array;

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** The largest header accepted (the reference implementation's bound). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

const DTYPE_SIZE: Record<SafetensorsDType, number> = { F32: 4, I32: 4, I64: 8 };

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors: this module assumes a little-endian host');
}

export function safetensorsDType(data: SafetensorsData): SafetensorsDType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  throw new SafetensorsError('safetensors: data must be a Float32Array, Int32Array or BigInt64Array');
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Encodes tensors (in the given order, stable-sorted by element size, largest first, so every
 *  tensor starts at a multiple of its element size) as safetensors bytes. */
export function encodeSafetensors(
  tensors: Map<string, SafetensorsTensor> | Record<string, SafetensorsTensor>,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError("safetensors: '__metadata__' is reserved and cannot name a tensor");
    if (!(t.dtype in DTYPE_SIZE)) throw new SafetensorsError(`safetensors: tensor '${name}': unsupported dtype ${String(t.dtype)}`);
    if (safetensorsDType(t.data) !== t.dtype) throw new SafetensorsError(`safetensors: tensor '${name}': dtype ${t.dtype} but data is a ${t.data.constructor.name}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`safetensors: tensor '${name}': shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
    const n = elementCount(t.shape);
    if (n !== t.data.length) throw new SafetensorsError(`safetensors: tensor '${name}': shape [${t.shape.join(', ')}] has ${n} elements but the data has ${t.data.length}`);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError(`safetensors: metadata '${k}' must be a string`);
  }
  const ordered = entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => DTYPE_SIZE[b.e[1].dtype] - DTYPE_SIZE[a.e[1].dtype] || a.i - b.i)
    .map((x) => x.e);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of ordered) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const [, t] of ordered) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Parses safetensors bytes; `source` (a file name) is named in every error. Every check runs before
 *  any tensor is returned; the returned arrays are copies, independent of `bytes`. */
export function decodeSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (msg: string): never => { throw new SafetensorsError(`safetensors file ${source}: ${msg}`); };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_SAFETENSORS_HEADER)) fail(`header length ${n64} exceeds the limit of ${MAX_SAFETENSORS_HEADER} bytes`);
  const n = Number(n64);
  if (n > bytes.length - 8) fail(`header length ${n} exceeds the ${bytes.length - 8} bytes after the length field (file truncated?)`);
  if (n < 2) fail(`header length ${n} is too small for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`header does not start with '{'`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const specs: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZE, dtype)) {
      fail(`${where}: unknown or unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) fail(`${where}: data_offsets [${begin}, ${end}] lie outside the data region of ${dataLen} bytes`);
    const size = DTYPE_SIZE[dtype as SafetensorsDType];
    const count = elementCount(shape as number[]);
    if (!Number.isSafeInteger(count * size) || count * size !== end - begin) {
      fail(`${where}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${count * size} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    specs.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }
  const byBegin = [...specs].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: (typeof specs)[number] | null = null;
  for (const s of byBegin) {
    if (s.begin < covered) {
      fail(`tensor '${s.name}': data_offsets [${s.begin}, ${s.end}] overlap tensor '${prev!.name}' [${prev!.begin}, ${prev!.end}]`);
    }
    if (s.begin > covered) fail(`tensor '${s.name}': data_offsets [${s.begin}, ${s.end}] leave a hole of bytes [${covered}, ${s.begin}] in the data region`);
    covered = s.end;
    prev = s;
  }
  if (covered !== dataLen) fail(`tensors cover ${covered} bytes but the data region holds ${dataLen} (trailing bytes)`);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const s of specs) {
    // A copy (Buffer#slice would be a view into a pooled buffer), aligned for the typed array.
    const copy = new ArrayBuffer(s.end - s.begin);
    new Uint8Array(copy).set(bytes.subarray(dataStart + s.begin, dataStart + s.end));
    const data = s.dtype === 'F32' ? new Float32Array(copy) : s.dtype === 'I32' ? new Int32Array(copy) : new BigInt64Array(copy);
    tensors.set(s.name, { dtype: s.dtype, shape: [...s.shape], data });
  }
  return { tensors, metadata };
}

/** Reads and parses a safetensors file. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const { fs } = await nodeFs();
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`safetensors file ${path}: cannot be read (${(e as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}
