// An ordered queue of backend operations (writes, dispatches, readback copies, frees). Operations run in
// call order: at once when nothing is pending, else after the pending ones. An operation may finish
// asynchronously (gpu.js 'webgpu' kernels resolve a promise; 'webasm' runs threaded kernels on a worker
// pool); later operations wait for it. A synchronous failure throws to the caller; an asynchronous one
// goes to the operation's error handler and is kept for the next drain().

export type Op = () => void | Promise<unknown>;

export class OpQueue {
  private tail: Promise<void> | null = null;
  private failure: Error | null = null;

  get idle(): boolean {
    return this.tail === null;
  }

  enqueue(op: Op, onError: (e: Error) => void): void {
    if (!this.tail) {
      const r = op();
      if (r && typeof (r as Promise<unknown>).then === 'function') this.track(r as Promise<unknown>, onError);
      return;
    }
    this.track(this.tail.then(op), onError);
  }

  private track(p: Promise<unknown>, onError: (e: Error) => void): void {
    const settled = p.then(
      () => undefined,
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        this.failure ??= err;
        try {
          onError(err);
        } catch {
          // an error handler only marks buffers
        }
      },
    );
    this.tail = settled;
    void settled.then(() => {
      if (this.tail === settled) this.tail = null;
    });
  }

  /** Waits until every queued operation has finished (those queued meanwhile too). */
  async settle(): Promise<void> {
    while (this.tail) await this.tail;
  }

  /** settle(), then throws the first asynchronous failure since the last drain (and forgets it). */
  async drain(): Promise<void> {
    await this.settle();
    const f = this.failure;
    this.failure = null;
    if (f) throw f;
  }
}
