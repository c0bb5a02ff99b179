// kernel 'reduce_logsumexp_rows_wg_sg'
enable subgroups;
diagnostic(off, subgroup_uniformity);

struct Params {
  K: i32,
  rows: i32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
  @builtin(subgroup_invocation_id) sg_id: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let lid_ = i32(lidx);
  let row = i32(wid.x) + i32(wid.y) * i32(nwg.x);
  if (row < params.rows) {
    let base = row * params.K;
    var mx: f32 = src[base + min(lid_, params.K - 1i)];
    for (var k: i32 = lid_; k < params.K; k += 256i) {
      mx = select(max(mx, src[base + k]), mx + src[base + k], ((bitcast<u32>(mx) & 0x7fffffffu) > 0x7f800000u) | ((bitcast<u32>(src[base + k]) & 0x7fffffffu) > 0x7f800000u));
    }
    let max_lane = i32(sg_id);
    let max_sg = subgroupMax(mx) + subgroupAdd(select(0.0f, mx, (bitcast<u32>(mx) & 0x7fffffffu) > 0x7f800000u));
    red[lid_] = max_sg;
    workgroupBarrier();
    var max_acc: f32 = red[max_lane];
    for (var max_q: i32 = 1i; max_q < 256i / i32(sg_size); max_q += 1i) {
      max_acc = select(max(max_acc, red[max_lane + max_q * i32(sg_size)]), max_acc + red[max_lane + max_q * i32(sg_size)], ((bitcast<u32>(max_acc) & 0x7fffffffu) > 0x7f800000u) | ((bitcast<u32>(red[max_lane + max_q * i32(sg_size)]) & 0x7fffffffu) > 0x7f800000u));
    }
    let max_total = subgroupMax(max_acc) + subgroupAdd(select(0.0f, max_acc, (bitcast<u32>(max_acc) & 0x7fffffffu) > 0x7f800000u));
    workgroupBarrier();
    var sum: f32 = 0.0f;
    for (var k_2: i32 = lid_; k_2 < params.K; k_2 += 256i) {
      sum = sum + exp(src[base + k_2] - max_total);
    }
    let sum_lane = i32(sg_id);
    let sum_sg = subgroupAdd(sum);
    red[lid_] = select(0.0f, sum_sg, sum_lane == 0i);
    workgroupBarrier();
    var sum_acc: f32 = red[sum_lane];
    for (var sum_q: i32 = 1i; sum_q < 256i / i32(sg_size); sum_q += 1i) {
      sum_acc = sum_acc + red[sum_lane + sum_q * i32(sg_size)];
    }
    let sum_total = subgroupAdd(sum_acc);
    workgroupBarrier();
    if (lid_ == 0i) {
      out[row] = max_total + log(sum_total);
    }
  }
}
