// kernel 'matmul_tiled_64x64x16_4x4_NTo4'
struct Params {
  M: i32,
  N: i32,
  K: i32,
  a_bs: i32,
  b_bs: i32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(1) @binding(0) var<uniform> params: Params;
var<workgroup> bp_a: array<vec4<f32>, 544>;
var<workgroup> bp_b: array<vec4<f32>, 544>;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let row0 = i32(wid.y) * 64i;
  let col0 = i32(wid.x) * 64i;
  let batch = i32(wid.z);
  let a_base = batch * params.a_bs;
  let b_base = batch * params.b_bs;
  let tid = i32(lidx);
  let tx = tid % 16i;
  let ty = tid / 16i;
  let lr0 = ty * 4i + 0i;
  let lr1 = ty * 4i + 1i;
  let lr2 = ty * 4i + 2i;
  let lr3 = ty * 4i + 3i;
  let lc0 = tx * 4i + 0i;
  let lc1 = tx * 4i + 1i;
  let lc2 = tx * 4i + 2i;
  let lc3 = tx * 4i + 3i;
  var acc0_0: vec4<f32> = vec4<f32>(0.0f);
  var acc1_0: vec4<f32> = vec4<f32>(0.0f);
  var acc2_0: vec4<f32> = vec4<f32>(0.0f);
  var acc3_0: vec4<f32> = vec4<f32>(0.0f);
  let bpa_kk0 = tid % 16i;
  let bpa_v0 = tid / 16i;
  let bpa_i0 = row0 + bpa_v0 * 4i;
  let bpa0_0_o = a_base + bpa_i0 * params.K;
  let bpa0_0_ok = bpa_i0 < params.M;
  let bpa_i0_1 = bpa_i0 + 1i;
  let bpa0_1_o = a_base + bpa_i0_1 * params.K;
  let bpa0_1_ok = bpa_i0_1 < params.M;
  let bpa_i0_2 = bpa_i0 + 2i;
  let bpa0_2_o = a_base + bpa_i0_2 * params.K;
  let bpa0_2_ok = bpa_i0_2 < params.M;
  let bpa_i0_3 = bpa_i0 + 3i;
  let bpa0_3_o = a_base + bpa_i0_3 * params.K;
  let bpa0_3_ok = bpa_i0_3 < params.M;
  let bpa_st0 = bpa_kk0 * 17i + bpa_v0;
  let bpb_kk0 = tid % 16i;
  let bpb_v0 = tid / 16i;
  let bpb_i0 = col0 + bpb_v0 * 4i;
  let bpb0_0_o = b_base + bpb_i0 * params.K;
  let bpb0_0_ok = bpb_i0 < params.N;
  let bpb_i0_1 = bpb_i0 + 1i;
  let bpb0_1_o = b_base + bpb_i0_1 * params.K;
  let bpb0_1_ok = bpb_i0_1 < params.N;
  let bpb_i0_2 = bpb_i0 + 2i;
  let bpb0_2_o = b_base + bpb_i0_2 * params.K;
  let bpb0_2_ok = bpb_i0_2 < params.N;
  let bpb_i0_3 = bpb_i0 + 3i;
  let bpb0_3_o = b_base + bpb_i0_3 * params.K;
  let bpb0_3_ok = bpb_i0_3 < params.N;
  let bpb_st0 = bpb_kk0 * 17i + bpb_v0;
  var bp_ra0: vec4<f32> = vec4<f32>(0.0f);
  var bp_rb0: vec4<f32> = vec4<f32>(0.0f);
  let k = 0i + bpa_kk0;
  let k_ok = k < params.K;
  bp_ra0 = vec4<f32>(select(0.0f, a[bpa0_0_o + k], bpa0_0_ok && k_ok), select(0.0f, a[bpa0_1_o + k], bpa0_1_ok && k_ok), select(0.0f, a[bpa0_2_o + k], bpa0_2_ok && k_ok), select(0.0f, a[bpa0_3_o + k], bpa0_3_ok && k_ok));
  let k_2 = 0i + bpb_kk0;
  let k_ok_2 = k_2 < params.K;
  bp_rb0 = vec4<f32>(select(0.0f, b[bpb0_0_o + k_2], bpb0_0_ok && k_ok_2), select(0.0f, b[bpb0_1_o + k_2], bpb0_1_ok && k_ok_2), select(0.0f, b[bpb0_2_o + k_2], bpb0_2_ok && k_ok_2), select(0.0f, b[bpb0_3_o + k_2], bpb0_3_ok && k_ok_2));
  bp_a[bpa_st0 + 0i] = bp_ra0;
  bp_b[bpb_st0 + 0i] = bp_rb0;
  workgroupBarrier();
  let bp_tiles = (params.K - 0i + 15i) / 16i;
  for (var bp_t: i32 = 0i; bp_t < bp_tiles; bp_t += 1i) {
    let cur = bp_t & 1i;
    let off_a = cur * 272i;
    let off_b = cur * 272i;
    let k_next = 0i + (bp_t + 1i) * 16i;
    let k_3 = k_next + bpa_kk0;
    let k_ok_3 = k_3 < params.K;
    bp_ra0 = vec4<f32>(select(0.0f, a[bpa0_0_o + k_3], bpa0_0_ok && k_ok_3), select(0.0f, a[bpa0_1_o + k_3], bpa0_1_ok && k_ok_3), select(0.0f, a[bpa0_2_o + k_3], bpa0_2_ok && k_ok_3), select(0.0f, a[bpa0_3_o + k_3], bpa0_3_ok && k_ok_3));
    let k_4 = k_next + bpb_kk0;
    let k_ok_4 = k_4 < params.K;
    bp_rb0 = vec4<f32>(select(0.0f, b[bpb0_0_o + k_4], bpb0_0_ok && k_ok_4), select(0.0f, b[bpb0_1_o + k_4], bpb0_1_ok && k_ok_4), select(0.0f, b[bpb0_2_o + k_4], bpb0_2_ok && k_ok_4), select(0.0f, b[bpb0_3_o + k_4], bpb0_3_ok && k_ok_4));
    let a0_0 = bp_a[off_a + 0i + ty];
    let b0_0 = bp_b[off_b + 0i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a0_0.x) * b0_0;
    acc1_0 = acc1_0 + vec4<f32>(a0_0.y) * b0_0;
    acc2_0 = acc2_0 + vec4<f32>(a0_0.z) * b0_0;
    acc3_0 = acc3_0 + vec4<f32>(a0_0.w) * b0_0;
    let a1_0 = bp_a[off_a + 17i + ty];
    let b1_0 = bp_b[off_b + 17i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a1_0.x) * b1_0;
    acc1_0 = acc1_0 + vec4<f32>(a1_0.y) * b1_0;
    acc2_0 = acc2_0 + vec4<f32>(a1_0.z) * b1_0;
    acc3_0 = acc3_0 + vec4<f32>(a1_0.w) * b1_0;
    let a2_0 = bp_a[off_a + 34i + ty];
    let b2_0 = bp_b[off_b + 34i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a2_0.x) * b2_0;
    acc1_0 = acc1_0 + vec4<f32>(a2_0.y) * b2_0;
    acc2_0 = acc2_0 + vec4<f32>(a2_0.z) * b2_0;
    acc3_0 = acc3_0 + vec4<f32>(a2_0.w) * b2_0;
    let a3_0 = bp_a[off_a + 51i + ty];
    let b3_0 = bp_b[off_b + 51i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a3_0.x) * b3_0;
    acc1_0 = acc1_0 + vec4<f32>(a3_0.y) * b3_0;
    acc2_0 = acc2_0 + vec4<f32>(a3_0.z) * b3_0;
    acc3_0 = acc3_0 + vec4<f32>(a3_0.w) * b3_0;
    let a4_0 = bp_a[off_a + 68i + ty];
    let b4_0 = bp_b[off_b + 68i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a4_0.x) * b4_0;
    acc1_0 = acc1_0 + vec4<f32>(a4_0.y) * b4_0;
    acc2_0 = acc2_0 + vec4<f32>(a4_0.z) * b4_0;
    acc3_0 = acc3_0 + vec4<f32>(a4_0.w) * b4_0;
    let a5_0 = bp_a[off_a + 85i + ty];
    let b5_0 = bp_b[off_b + 85i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a5_0.x) * b5_0;
    acc1_0 = acc1_0 + vec4<f32>(a5_0.y) * b5_0;
    acc2_0 = acc2_0 + vec4<f32>(a5_0.z) * b5_0;
    acc3_0 = acc3_0 + vec4<f32>(a5_0.w) * b5_0;
    let a6_0 = bp_a[off_a + 102i + ty];
    let b6_0 = bp_b[off_b + 102i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a6_0.x) * b6_0;
    acc1_0 = acc1_0 + vec4<f32>(a6_0.y) * b6_0;
    acc2_0 = acc2_0 + vec4<f32>(a6_0.z) * b6_0;
    acc3_0 = acc3_0 + vec4<f32>(a6_0.w) * b6_0;
    let a7_0 = bp_a[off_a + 119i + ty];
    let b7_0 = bp_b[off_b + 119i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a7_0.x) * b7_0;
    acc1_0 = acc1_0 + vec4<f32>(a7_0.y) * b7_0;
    acc2_0 = acc2_0 + vec4<f32>(a7_0.z) * b7_0;
    acc3_0 = acc3_0 + vec4<f32>(a7_0.w) * b7_0;
    let a8_0 = bp_a[off_a + 136i + ty];
    let b8_0 = bp_b[off_b + 136i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a8_0.x) * b8_0;
    acc1_0 = acc1_0 + vec4<f32>(a8_0.y) * b8_0;
    acc2_0 = acc2_0 + vec4<f32>(a8_0.z) * b8_0;
    acc3_0 = acc3_0 + vec4<f32>(a8_0.w) * b8_0;
    let a9_0 = bp_a[off_a + 153i + ty];
    let b9_0 = bp_b[off_b + 153i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a9_0.x) * b9_0;
    acc1_0 = acc1_0 + vec4<f32>(a9_0.y) * b9_0;
    acc2_0 = acc2_0 + vec4<f32>(a9_0.z) * b9_0;
    acc3_0 = acc3_0 + vec4<f32>(a9_0.w) * b9_0;
    let a10_0 = bp_a[off_a + 170i + ty];
    let b10_0 = bp_b[off_b + 170i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a10_0.x) * b10_0;
    acc1_0 = acc1_0 + vec4<f32>(a10_0.y) * b10_0;
    acc2_0 = acc2_0 + vec4<f32>(a10_0.z) * b10_0;
    acc3_0 = acc3_0 + vec4<f32>(a10_0.w) * b10_0;
    let a11_0 = bp_a[off_a + 187i + ty];
    let b11_0 = bp_b[off_b + 187i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a11_0.x) * b11_0;
    acc1_0 = acc1_0 + vec4<f32>(a11_0.y) * b11_0;
    acc2_0 = acc2_0 + vec4<f32>(a11_0.z) * b11_0;
    acc3_0 = acc3_0 + vec4<f32>(a11_0.w) * b11_0;
    let a12_0 = bp_a[off_a + 204i + ty];
    let b12_0 = bp_b[off_b + 204i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a12_0.x) * b12_0;
    acc1_0 = acc1_0 + vec4<f32>(a12_0.y) * b12_0;
    acc2_0 = acc2_0 + vec4<f32>(a12_0.z) * b12_0;
    acc3_0 = acc3_0 + vec4<f32>(a12_0.w) * b12_0;
    let a13_0 = bp_a[off_a + 221i + ty];
    let b13_0 = bp_b[off_b + 221i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a13_0.x) * b13_0;
    acc1_0 = acc1_0 + vec4<f32>(a13_0.y) * b13_0;
    acc2_0 = acc2_0 + vec4<f32>(a13_0.z) * b13_0;
    acc3_0 = acc3_0 + vec4<f32>(a13_0.w) * b13_0;
    let a14_0 = bp_a[off_a + 238i + ty];
    let b14_0 = bp_b[off_b + 238i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a14_0.x) * b14_0;
    acc1_0 = acc1_0 + vec4<f32>(a14_0.y) * b14_0;
    acc2_0 = acc2_0 + vec4<f32>(a14_0.z) * b14_0;
    acc3_0 = acc3_0 + vec4<f32>(a14_0.w) * b14_0;
    let a15_0 = bp_a[off_a + 255i + ty];
    let b15_0 = bp_b[off_b + 255i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a15_0.x) * b15_0;
    acc1_0 = acc1_0 + vec4<f32>(a15_0.y) * b15_0;
    acc2_0 = acc2_0 + vec4<f32>(a15_0.z) * b15_0;
    acc3_0 = acc3_0 + vec4<f32>(a15_0.w) * b15_0;
    bp_a[bpa_st0 + (272i - off_a)] = bp_ra0;
    bp_b[bpb_st0 + (272i - off_b)] = bp_rb0;
    workgroupBarrier();
  }
  let out_base = batch * params.M * params.N;
  let m0 = row0 + lr0;
  if (m0 < params.M) {
    let row0_2 = out_base + m0 * params.N;
    let n0_0 = col0 + lc0;
    if (n0_0 < params.N) {
      out[(row0_2 + n0_0) / 4i] = acc0_0;
    }
  }
  let m1 = row0 + lr1;
  if (m1 < params.M) {
    let row1 = out_base + m1 * params.N;
    let n1_0 = col0 + lc0;
    if (n1_0 < params.N) {
      out[(row1 + n1_0) / 4i] = acc1_0;
    }
  }
  let m2 = row0 + lr2;
  if (m2 < params.M) {
    let row2 = out_base + m2 * params.N;
    let n2_0 = col0 + lc0;
    if (n2_0 < params.N) {
      out[(row2 + n2_0) / 4i] = acc2_0;
    }
  }
  let m3 = row0 + lr3;
  if (m3 < params.M) {
    let row3 = out_base + m3 * params.N;
    let n3_0 = col0 + lc0;
    if (n3_0 < params.N) {
      out[(row3 + n3_0) / 4i] = acc3_0;
    }
  }
}
