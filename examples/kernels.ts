// `pnpm kernels` (the listing is examples/kernels/main.ts; --import files are bundled with it, see with-imports.ts).
import { runWithImports } from './with-imports.js';

await runWithImports('pnpm kernels', 'examples/kernels/main.ts', () => import('./kernels/main.js'));
