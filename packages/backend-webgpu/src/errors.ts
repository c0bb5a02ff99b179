// How GPU errors reach the caller: the device's loss (every later call throws it), errors outside any
// error scope (kept as they arrive), and the pipelines' compile errors and the batches' scope errors,
// which the device reports asynchronously: the next read or flush throws the first of them (check).
import type { CommandBatcher } from './batch.js';
import type { PipelineCache } from './pipelines.js';

export class DeviceErrors {
  /** Set once the device is lost. */
  lostInfo: GPUDeviceLostInfo | null = null;
  private readonly uncaptured: string[] = [];

  constructor(private readonly device: GPUDevice, private readonly pipelines: PipelineCache, private readonly batches: CommandBatcher) {
    void device.lost.then((info) => {
      this.lostInfo = info;
    });
    // Errors outside the batches' error scopes (a buffer the device could not create, say) are kept and
    // thrown by the next read or flush.
    device.addEventListener('uncapturederror', (ev) => {
      this.uncaptured.push((ev as GPUUncapturedErrorEvent).error.message.trim());
    });
  }

  /** Throws the first compile or batch error the device has reported since the last check. */
  async check(): Promise<void> {
    const compileError = await this.pipelines.takeCompileError();
    const batchError = await this.batches.takeError();
    // A failed pipeline also invalidates the batch that used it; its own message says more.
    if (compileError) throw new Error(compileError);
    if (this.uncaptured.length) {
      const messages = this.uncaptured.splice(0);
      throw new Error(`webgpu: the GPU reported an error outside a batch of kernels: ${messages.join(' | ')}`);
    }
    if (batchError) throw new Error(batchError);
  }

  /** Throws if the device is lost, naming what was attempted. */
  throwIfLost(what: string): void {
    if (this.lostInfo) throw new Error(`webgpu: ${what}: ${lostText(this.lostInfo)}`);
  }

  /** The error for a failed `what`: the device's loss if it was lost, else `cause`. */
  async lostError(what: string, cause?: unknown): Promise<Error> {
    if (!this.lostInfo) {
      // The lost promise settles on the device's own timeline; give it a moment.
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 200))]);
    }
    if (this.lostInfo) return new Error(`webgpu: ${what}: ${lostText(this.lostInfo)}`);
    return new Error(`webgpu: ${what} failed: ${(cause as Error)?.message || String(cause ?? 'unknown error')}`);
  }
}

function lostText(info: GPUDeviceLostInfo): string {
  return `the GPU device was lost (${info.reason}${info.message ? `: ${info.message.trim()}` : ''}); ` +
    `create a new backend (useBackend('webgpu')) to continue`;
}
