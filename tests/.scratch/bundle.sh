set -e
cd /work/main
b() { npx esbuild "$1" --bundle --platform=node --format=esm --external:webgpu --external:gpu.js --external:gl --log-level=warning --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" --outfile=dist/device/$2.mjs; }
b bench/attention.ts attention
b bench/train-step.ts train-step
b examples/train-gpt.ts train
b tests/.scratch/tiles-device.ts tiles-check
