// kernel 'ir_shared_2d'
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> ids: array<i32>;
var<workgroup> tile: array<f32, 8>;
var<workgroup> tile4: array<vec4<f32>, 2>;

@compute @workgroup_size(4, 2, 1)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let li = i32(lidx);
  let wg = i32(wid.x) + i32(wid.y) * i32(nwg.x) + i32(wid.z) * (i32(nwg.x) * i32(nwg.y));
  let g = wg * 8i + li;
  tile[li] = x[g];
  if (li < 2i) {
    tile4[li] = vec4<f32>(x[g], x[g] * 2.0f, 3.0f, 4.0f);
  }
  workgroupBarrier();
  var s: f32 = 0.0f;
  for (var k: i32 = li % 2i; k < 8i; k += 2i) {
    s = s + tile[k];
  }
  let v4 = tile4[li % 2i];
  out[g] = tile[7i - li] + s + v4.y;
  if (li == 7i) {
    return;
  }
  ids[g * 6i] = i32(gid.x);
  ids[g * 6i + 1i] = i32(gid.y);
  ids[g * 6i + 2i] = i32(gid.z);
  ids[g * 6i + 3i] = i32(lid.x);
  ids[g * 6i + 4i] = i32(lid.y);
  ids[g * 6i + 5i] = i32(lid.z) + wg * 100i;
}
