// Seeded random numbers: mulberry32, small and fast, good enough for initialisation and test data.
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let global: Rng = mulberry32(0x5eed);

/** Reseeds the global generator used by randn/uniform/randint calls without a seed. */
export function manualSeed(seed: number): void {
  global = mulberry32(seed);
}

export function defaultRng(): Rng {
  return global;
}
