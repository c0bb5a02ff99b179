// Hand-built safetensors files for the reader tests (tests/nn/checkpoint.test.ts and
// tests/nn/safetensors-python.test.ts): bytes encodeSafetensors would never write.

/**
 * The 8-byte length, a header (an object, or raw text when a string), then data bytes (none by
 * default); `len` overrides the length field.
 */
export function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), len?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}
