#!/bin/bash
# Builds a folder that runs bench/backends.ts and the tests/gpujs files on a machine with no workspace and no
# network (the H100 device machine): gpu.js, acorn and uvu are bundled in; the `webgpu` package (Dawn's
# native dawn.node) travels beside the bundles, gzipped, as does this machine's node binary.
#   packages/backend-gpujs/scripts/offline-bundle.sh [OUT_DIR]     (default: .h100 at the repository root)
# There:  bash OUT_DIR/run.sh   (from the repository root; unpacks, then tests, bench --quick, full bench;
#         results in $OUT when set). A Vulkan loader for NVIDIA machines: see run.sh's .gl note.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=$(mkdir -p "${1:-$root/.h100}" && cd "${1:-$root/.h100}" && pwd)
webgpu=$(cd "$root/packages/backend-gpujs/node_modules/webgpu" && pwd -P)
esbuild="$root/node_modules/.bin/esbuild"
banner="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"

mkdir -p "$out/node_modules/webgpu"
cp "$webgpu/package.json" "$webgpu/index.js" "$out/node_modules/webgpu/"
gzip -9 -c "$webgpu/dist/linux-x64/dawn.node" > "$out/dawn.node.gz"
gzip -9 -c "$(command -v node)" > "$out/node.gz"

"$esbuild" "$root/bench/backends.ts" --bundle --platform=node --format=esm --target=node20 \
  --outfile="$out/bench.mjs" --external:webgpu --external:gl --banner:js="$banner" --log-level=warning

tests=$(cd "$root/tests/gpujs" && ls *.test.ts)
{
  echo "globalThis.UVU_DEFER = 1;"
  echo "const uvu = await import('uvu');"
  i=0
  for t in $tests; do
    echo "globalThis.UVU_INDEX = $i; globalThis.UVU_QUEUE.push(['$t']); await import('$root/tests/gpujs/$t');"
    i=$((i + 1))
  done
  echo "await uvu.exec(false);"
} > "$out/tests-entry.mjs"
"$esbuild" "$out/tests-entry.mjs" --bundle --platform=node --format=esm --target=node20 \
  --outfile="$out/tests.mjs" --external:webgpu --external:gl --banner:js="$banner" --log-level=warning
rm "$out/tests-entry.mjs"

name=$(basename "$out")
cat > "$out/run.sh" <<SH
#!/bin/bash
# From the repository root on the target machine. NVIDIA without a Vulkan loader: carry .gl with the
# debs of libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 (apt-get download).
for f in .gl/*.deb; do [ -f "\$f" ] && dpkg -x "\$f" /; done; ldconfig 2>/dev/null
cd $name
mkdir -p node_modules/webgpu/dist/linux-x64
gunzip -c dawn.node.gz > node_modules/webgpu/dist/linux-x64/dawn.node
NODE=\$(command -v node || true)
if [ -z "\$NODE" ] || ! "\$NODE" --version | grep -q '^v2[0-9]'; then gunzip -c node.gz > /tmp/node && chmod +x /tmp/node && NODE=/tmp/node; fi
OUT=\${OUT:-.}
echo "node \$(\$NODE --version), \$(nproc) cores"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
echo "== tests"; timeout 240 \$NODE tests.mjs > \$OUT/tests.log 2>&1; grep -E "FAIL|Total|Passed|Skipped" \$OUT/tests.log
echo "== bench --quick"; timeout 120 \$NODE bench.mjs --quick --save \$OUT/quick.json 2>&1 | grep -v '^Warning' | tail -16
echo "== bench"; timeout 400 \$NODE bench.mjs --save \$OUT/full.json 2>&1 | grep -v '^Warning' | tail -18
SH
chmod +x "$out/run.sh"
du -sh "$out"
