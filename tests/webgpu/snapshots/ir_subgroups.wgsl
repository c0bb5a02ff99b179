// kernel 'ir_subgroups'
enable subgroups;
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(32, 1, 1)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(subgroup_invocation_id) sg_id: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let i = i32(gid.x);
  let v = x[i];
  let lane = i32(sg_id);
  let size = i32(sg_size);
  let pair = subgroupAdd(vec2<f32>(v, v * v));
  out[i * 8i + 0i] = subgroupAdd(v);
  out[i * 8i + 1i] = subgroupMax(v);
  out[i * 8i + 2i] = subgroupMin(v);
  out[i * 8i + 3i] = subgroupBroadcast(v, 1i);
  out[i * 8i + 4i] = subgroupShuffle(v, lane ^ 1i);
  out[i * 8i + 5i] = pair.y;
  out[i * 8i + 6i] = f32(size);
  out[i * 8i + 7i] = f32(subgroupAdd(lane));
}
