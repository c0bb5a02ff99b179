// `pnpm gradcheck` (the checks are examples/gradcheck/main.ts; --import files are bundled with it, see with-imports.ts).
import { runWithImports } from './with-imports.js';

await runWithImports('pnpm gradcheck', 'examples/gradcheck/main.ts', () => import('./gradcheck/main.js'));
