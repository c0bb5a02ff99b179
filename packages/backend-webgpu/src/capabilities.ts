// What a WebGPU device offers the IR (its Capabilities and the one-line description of the backend),
// and the checks of a kernel and its bindings against WebGPU's own limits and rules, made before the
// device sees them so that the error names the kernel.
import type { Capabilities, Capability, Kernel } from '@cce/core';
import { formatMatrixConfig } from '@cce/core';
import type { GpuBuffer } from './buffer.js';
import type { AdapterReport } from './device.js';

export function deviceCapabilities(device: GPUDevice, report: AdapterReport): Capabilities {
  const L = device.limits;
  const subgroups = device.features.has('subgroups');
  const features: Capability[] = ['workgroupMemory'];
  if (subgroups) features.push('subgroups');
  if (device.features.has('shader-f16')) features.push('f16');
  if (report.subgroupMatrixConfigs.length) features.push('subgroupMatrix');
  return {
    features: new Set(features),
    ...(subgroups && report.subgroupMinSize ? { subgroupSize: report.subgroupMinSize, subgroupMaxSize: report.subgroupMaxSize ?? report.subgroupMinSize } : {}),
    ...(report.subgroupMatrixConfigs.length ? { subgroupMatrixConfigs: report.subgroupMatrixConfigs } : {}),
    mapOnly: false,
    bindingRanges: true,
    limits: {
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
      maxWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
      maxInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      maxWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** The adapter, its subgroup sizes and the limits that matter most, in one line. */
export function describeDevice(device: GPUDevice, report: AdapterReport): string {
  const L = device.limits;
  const sg = device.features.has('subgroups') && report.subgroupMinSize
    ? `subgroups ${report.subgroupMinSize === report.subgroupMaxSize ? report.subgroupMinSize : `${report.subgroupMinSize}-${report.subgroupMaxSize}`}`
    : 'no subgroups';
  return `${report.name}; ${sg}; bindings up to ${mib(L.maxStorageBufferBindingSize)}, ` +
    `${L.maxComputeWorkgroupStorageSize / 1024} KiB workgroup memory, ${L.maxComputeInvocationsPerWorkgroup} invocations` +
    `${device.features.has('timestamp-query') ? ', timestamps' : ''}${device.features.has('shader-f16') ? ', f16' : ''}` +
    `${report.subgroupMatrixConfigs.length ? `, subgroup matrices ${report.subgroupMatrixConfigs.map(formatMatrixConfig).join(' ')}` : ''}`;
}

export function checkDeviceLimits(device: GPUDevice, kernel: Kernel): void {
  const L = device.limits;
  const [x, y, z] = kernel.workgroupSize;
  const dims: [number, number, string][] = [[x, L.maxComputeWorkgroupSizeX, 'x'], [y, L.maxComputeWorkgroupSizeY, 'y'], [z, L.maxComputeWorkgroupSizeZ, 'z']];
  for (const [n, max, axis] of dims) {
    if (n > max) throw new Error(`webgpu: kernel '${kernel.name}' has workgroup size ${n} along ${axis}; the limit is ${max}`);
  }
  if (kernel.buffers.length > L.maxStorageBuffersPerShaderStage) {
    throw new Error(`webgpu: kernel '${kernel.name}' binds ${kernel.buffers.length} storage buffers; the limit is ${L.maxStorageBuffersPerShaderStage}`);
  }
}

export function checkAliasing(kernel: Kernel, bufs: GpuBuffer[]): void {
  for (let i = 0; i < bufs.length; i++) {
    for (let j = i + 1; j < bufs.length; j++) {
      if (bufs[i]!.gpu !== bufs[j]!.gpu) continue;
      const a = kernel.buffers[i]!;
      const b = kernel.buffers[j]!;
      if (a.access === 'read_write' || b.access === 'read_write') {
        throw new Error(`webgpu: kernel '${kernel.name}' binds one buffer to '${a.name}' (${a.access}) and '${b.name}' (${b.access}); ` +
          `WebGPU forbids a writable binding that aliases another`);
      }
    }
  }
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(bytes % 2 ** 30 ? 1 : 0)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}
