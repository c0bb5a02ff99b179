// kernel 'ir_reserved_names'
struct Params {
  select_: f32,
  count: i32,
}

@group(0) @binding(0) var<storage, read> max_: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let idx = i32(gid.x) + i32(gid.y) * (i32(nwg.x) * 64i);
  if (idx < params.count) {
    let loop_ = max_[idx];
    var exp_: f32 = loop_ * params.select_;
    for (var var_: i32 = 0i; var_ < 3i; var_ += 1i) {
      exp_ = exp_ + f32(var_);
    }
    out[idx] = select(max(exp_, 0.5f), exp_ + 0.5f, ((bitcast<u32>(exp_) & 0x7fffffffu) > 0x7f800000u) | ((bitcast<u32>(0.5f) & 0x7fffffffu) > 0x7f800000u)) + f32(3u);
  }
}
