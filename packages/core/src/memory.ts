// Memory scopes. Every tensor created while a scope is open belongs to it; when the scope ends, its
// tensors are disposed except those returned from it (they move to the enclosing scope) and those kept.
// Scopes form a stack, so an async scope works across `await` as long as scopes are not interleaved by
// concurrent tasks (run concurrent work in one scope, or keep() what must outlive it).

/** What a scope needs of a tensor (the Tensor class, which imports this module, has it). */
export interface ScopedTensor {
  kept: boolean;
  dispose(): void;
}

const stack: Set<ScopedTensor>[] = [];
/** Marks Tensor instances without importing the class (tensor.ts imports this module). */
export const TENSOR_BRAND = Symbol.for('cce.tensor');

export function trackTensor(t: ScopedTensor): void {
  stack[stack.length - 1]?.add(t);
}

export function untrackTensor(t: ScopedTensor): void {
  for (const s of stack) s.delete(t);
}

/** Excludes a tensor from every scope's cleanup; dispose it yourself. */
export function keep<T extends ScopedTensor>(t: T): T {
  t.kept = true;
  untrackTensor(t);
  return t;
}

function collectTensors(value: unknown, out: Set<ScopedTensor>, seen = new Set<unknown>()): void {
  if (!value || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (TENSOR_BRAND in (value as object)) {
    out.add(value as ScopedTensor);
    return;
  }
  if (ArrayBuffer.isView(value)) return; // typed arrays hold numbers, never tensors
  const items = Array.isArray(value) ? value
    : value instanceof Map ? [...value.keys(), ...value.values()]
      : value instanceof Set ? [...value] : Object.values(value);
  for (const v of items) collectTensors(v, out, seen);
}

function closeScope(scope: Set<ScopedTensor>, result: unknown): void {
  const returned = new Set<ScopedTensor>();
  collectTensors(result, returned);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (returned.has(t) || t.kept) parent?.add(t);
    else t.dispose();
  }
}

function openScope(): { close(result: unknown): void } {
  const s = new Set<ScopedTensor>();
  stack.push(s);
  return {
    close(result) {
      stack.splice(stack.lastIndexOf(s), 1);
      closeScope(s, result);
    },
  };
}

/** Runs `fn` in a scope (sync or async); tensors it created and did not return are disposed after. */
export async function scope<T>(fn: () => T | Promise<T>): Promise<T> {
  const opened = openScope();
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    opened.close(undefined);
    throw e;
  }
  opened.close(result);
  return result;
}

/** The synchronous form of scope(). */
export function scopeSync<T>(fn: () => T): T {
  const opened = openScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    opened.close(undefined);
    throw e;
  }
  opened.close(result);
  return result;
}
