// What the backends agree on about GPU adapters.

/**
 * A CPU-emulated adapter (Mesa lavapipe/llvmpipe, SwiftShader): slower than gpu.js's WebAssembly path,
 * so both GPU backends rank it after that. `text` is whatever names the adapter (device, description).
 */
export function isSoftwareAdapter(a: { isFallbackAdapter?: boolean; architecture?: string; text: string }): boolean {
  return !!a.isFallbackAdapter || /software|llvmpipe|lavapipe|swiftshader/i.test(`${a.architecture ?? ''} ${a.text}`);
}
