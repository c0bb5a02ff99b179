// One shared WebGPU backend for the webgpu test files (one device for the whole run), and the policy when
// no adapter answers: under CI (process.env.CI set) every webgpu suite fails with the reason; elsewhere
// the suites are skipped with a printed warning.
import { suite } from 'uvu';
import { type WebGpuBackend, createWebGpuBackend } from '@cce/backend-webgpu';

let shared: Promise<WebGpuBackend | Error> | null = null;

/** The shared backend, or the Error that says why none could be created. */
export function sharedBackend(): Promise<WebGpuBackend | Error> {
  shared ??= createWebGpuBackend().catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  return shared;
}

/** The shared backend; throws (failing the test) when there is none. */
export async function requireBackend(): Promise<WebGpuBackend> {
  const b = await sharedBackend();
  if (b instanceof Error) throw new Error(`no WebGPU adapter for the webgpu tests: ${b.message}`);
  return b;
}

let warned = false;

/**
 * Whether the webgpu suites should run. With no adapter: under CI, registers a failing test and returns
 * false; elsewhere prints a warning and returns false.
 */
export async function webgpuAvailable(what: string): Promise<boolean> {
  const b = await sharedBackend();
  if (!(b instanceof Error)) return true;
  if (process.env.CI) {
    const s = suite(`${what}: webgpu adapter`);
    s('a WebGPU adapter is available (required under CI)', () => {
      throw new Error(`no WebGPU adapter, so the webgpu tests cannot run under CI: ${b.message}`);
    });
    s.run();
  } else if (!warned) {
    warned = true;
    console.warn(`\nWARNING: webgpu tests skipped, no adapter: ${b.message}\n`);
  }
  return false;
}
