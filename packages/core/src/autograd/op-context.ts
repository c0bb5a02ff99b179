// Which fused op is running: applyFusedOp and the tape push its name around the op's forward and backward,
// so that backends can name the op beside the kernel in errors and profiles ("kernel 'rmsnorm_dx' of op
// 'rmsNorm (backward)'"). Both run synchronously, so a stack suffices.
const stack: string[] = [];

export function withOpName<T>(name: string, fn: () => T): T {
  stack.push(name);
  try {
    return fn();
  } finally {
    stack.pop();
  }
}

/** The innermost fused op running now, if any. */
export function currentOpName(): string | undefined {
  return stack[stack.length - 1];
}

/** `kernel 'k'`, with ` of op 'o'` while a fused op runs: for error messages. */
export function describeKernel(kernel: string): string {
  const op = currentOpName();
  return op ? `kernel '${kernel}' of op '${op}'` : `kernel '${kernel}'`;
}
