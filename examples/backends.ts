// Registers every backend package that loads here (each registers itself on import).
export async function loadBackends(): Promise<void> {
  for (const load of [() => import('@cce/backend-webgpu'), () => import('@cce/backend-gpujs')]) {
    try {
      await load();
    } catch (e) {
      console.warn(`(a backend package failed to load: ${(e as Error).message.split('\n')[0]})`);
    }
  }
}
