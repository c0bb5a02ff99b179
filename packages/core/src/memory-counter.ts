// The live-buffer and byte counters behind every backend's memory(): one implementation, so that the
// numbers mean the same thing on every backend.
import type { MemoryStats } from './backend.js';

export class MemoryCounter {
  private live = 0;
  private inUse = 0;
  private peak = 0;

  allocated(bytes: number): void {
    this.live++;
    this.inUse += bytes;
    this.peak = Math.max(this.peak, this.inUse);
  }

  freed(bytes: number): void {
    this.live--;
    this.inUse -= bytes;
  }

  stats(pooledBytes = 0): MemoryStats {
    return { liveBuffers: this.live, bytesInUse: this.inUse, peakBytes: this.peak, pooledBytes };
  }

  resetPeak(): void {
    this.peak = this.inUse;
  }
}
