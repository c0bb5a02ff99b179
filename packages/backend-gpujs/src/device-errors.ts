// Device errors that reach no error scope ('webgpu' mode): gpu.js sets a handler that only logs them, so
// the backend listens itself and reports the first such error from its next read or flush.
import type { DeviceLike } from './gpujs-types.js';

/** The listeners per device: each error goes to every backend on that device. */
const deviceListeners = new WeakMap<DeviceLike, Set<(message: string) => void>>();

function listenForDeviceErrors(device: DeviceLike, listener: (message: string) => void): () => void {
  let set = deviceListeners.get(device);
  if (!set) {
    const listeners = new Set<(message: string) => void>();
    set = listeners;
    deviceListeners.set(device, listeners);
    const previous = device.onuncapturederror;
    device.onuncapturederror = (event) => {
      for (const l of listeners) l(event.error.message);
      if (!listeners.size) previous?.(event);
    };
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** One backend's watch on its device's uncaught errors (none without a device). */
export class DeviceErrorWatch {
  private message: string | null = null;
  /** Stops listening (when the backend is destroyed). */
  readonly stop: () => void = () => {};

  constructor(device: DeviceLike | null) {
    if (device) {
      this.stop = listenForDeviceErrors(device, (message) => {
        this.message ??= message;
      });
    }
  }

  /** Throws (once) a device error that no operation caught, naming it as such. */
  throwPending(name: string): void {
    const message = this.message;
    if (message === null) return;
    this.message = null;
    throw new Error(`${name}: the WebGPU device reported an error: ${message.split('\n')[0]}`);
  }
}
