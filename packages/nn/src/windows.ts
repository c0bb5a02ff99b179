// Copies over tensors larger than one storage binding, window by window (core's dispatchWindows).
import * as C from '@cce/core';
import type { Kernel, Tensor } from '@cce/core';

const copyF32 = (): Kernel => C.memoKernel('nn:copy_f32', () =>
  C.defineMapKernel('nn_copy_f32', { workgroupSize: 256, outputType: 'f32' }, (b) => b.input('src', 'f32'), ({ index }, src) => src.at(index)));

/** Copies src's elements into dst (same size, f32), window by window. */
export function copyInto(dst: Tensor, src: Tensor, op = 'copy'): void {
  if (src.size !== dst.size) throw new Error(`${op}: copying ${src.size} elements into ${dst.size}`);
  C.dispatchWindows(op, copyF32(), dst.size, { out: dst, src }, {}, {}, dst.backend);
}
