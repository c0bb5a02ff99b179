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
var<workgroup> As: array<vec4<f32>, 544>;
var<workgroup> Bs: array<vec4<f32>, 544>;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let tid = i32(lidx);
  let tx = tid % 16i;
  let ty = tid / 16i;
  let row0 = i32(wid.y) * 64i;
  let col0 = i32(wid.x) * 64i;
  let batch = i32(wid.z);
  let a_base = batch * params.a_bs;
  let b_base = batch * params.b_bs;
  let a_kk0 = tid % 16i;
  let a_v0 = tid / 16i;
  let a_st0 = a_kk0 * 17i + a_v0;
  let a_i0 = row0 + a_v0 * 4i;
  let a_ok0_0 = a_i0 < params.M;
  let a_o0_0 = a_base + a_i0 * params.K;
  let a_ok0_1 = a_i0 + 1i < params.M;
  let a_o0_1 = a_base + (a_i0 + 1i) * params.K;
  let a_ok0_2 = a_i0 + 2i < params.M;
  let a_o0_2 = a_base + (a_i0 + 2i) * params.K;
  let a_ok0_3 = a_i0 + 3i < params.M;
  let a_o0_3 = a_base + (a_i0 + 3i) * params.K;
  let b_kk0 = tid % 16i;
  let b_v0 = tid / 16i;
  let b_st0 = b_kk0 * 17i + b_v0;
  let b_i0 = col0 + b_v0 * 4i;
  let b_ok0_0 = b_i0 < params.N;
  let b_o0_0 = b_base + b_i0 * params.K;
  let b_ok0_1 = b_i0 + 1i < params.N;
  let b_o0_1 = b_base + (b_i0 + 1i) * params.K;
  let b_ok0_2 = b_i0 + 2i < params.N;
  let b_o0_2 = b_base + (b_i0 + 2i) * params.K;
  let b_ok0_3 = b_i0 + 3i < params.N;
  let b_o0_3 = b_base + (b_i0 + 3i) * params.K;
  var acc0_0: vec4<f32> = vec4<f32>(0.0f);
  var acc1_0: vec4<f32> = vec4<f32>(0.0f);
  var acc2_0: vec4<f32> = vec4<f32>(0.0f);
  var acc3_0: vec4<f32> = vec4<f32>(0.0f);
  var ra0: vec4<f32> = vec4<f32>(select(0.0f, a[a_o0_0 + a_kk0], a_ok0_0 && a_kk0 < params.K), select(0.0f, a[a_o0_1 + a_kk0], a_ok0_1 && a_kk0 < params.K), select(0.0f, a[a_o0_2 + a_kk0], a_ok0_2 && a_kk0 < params.K), select(0.0f, a[a_o0_3 + a_kk0], a_ok0_3 && a_kk0 < params.K));
  var rb0: vec4<f32> = vec4<f32>(select(0.0f, b[b_o0_0 + b_kk0], b_ok0_0 && b_kk0 < params.K), select(0.0f, b[b_o0_1 + b_kk0], b_ok0_1 && b_kk0 < params.K), select(0.0f, b[b_o0_2 + b_kk0], b_ok0_2 && b_kk0 < params.K), select(0.0f, b[b_o0_3 + b_kk0], b_ok0_3 && b_kk0 < params.K));
  As[a_st0] = ra0;
  Bs[b_st0] = rb0;
  workgroupBarrier();
  let tiles = (params.K + 15i) / 16i;
  for (var t: i32 = 0i; t < tiles; t += 1i) {
    let cur = t & 1i;
    let off_a = cur * 272i;
    let off_b = cur * 272i;
    let next_a = 272i - off_a;
    let next_b = 272i - off_b;
    let k_next = (t + 1i) * 16i;
    ra0 = vec4<f32>(select(0.0f, a[a_o0_0 + (k_next + a_kk0)], a_ok0_0 && k_next + a_kk0 < params.K), select(0.0f, a[a_o0_1 + (k_next + a_kk0)], a_ok0_1 && k_next + a_kk0 < params.K), select(0.0f, a[a_o0_2 + (k_next + a_kk0)], a_ok0_2 && k_next + a_kk0 < params.K), select(0.0f, a[a_o0_3 + (k_next + a_kk0)], a_ok0_3 && k_next + a_kk0 < params.K));
    rb0 = vec4<f32>(select(0.0f, b[b_o0_0 + (k_next + b_kk0)], b_ok0_0 && k_next + b_kk0 < params.K), select(0.0f, b[b_o0_1 + (k_next + b_kk0)], b_ok0_1 && k_next + b_kk0 < params.K), select(0.0f, b[b_o0_2 + (k_next + b_kk0)], b_ok0_2 && k_next + b_kk0 < params.K), select(0.0f, b[b_o0_3 + (k_next + b_kk0)], b_ok0_3 && k_next + b_kk0 < params.K));
    let a0_0 = As[off_a + 0i + ty];
    let b0_0 = Bs[off_b + 0i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a0_0.x) * b0_0;
    acc1_0 = acc1_0 + vec4<f32>(a0_0.y) * b0_0;
    acc2_0 = acc2_0 + vec4<f32>(a0_0.z) * b0_0;
    acc3_0 = acc3_0 + vec4<f32>(a0_0.w) * b0_0;
    let a1_0 = As[off_a + 17i + ty];
    let b1_0 = Bs[off_b + 17i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a1_0.x) * b1_0;
    acc1_0 = acc1_0 + vec4<f32>(a1_0.y) * b1_0;
    acc2_0 = acc2_0 + vec4<f32>(a1_0.z) * b1_0;
    acc3_0 = acc3_0 + vec4<f32>(a1_0.w) * b1_0;
    let a2_0 = As[off_a + 34i + ty];
    let b2_0 = Bs[off_b + 34i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a2_0.x) * b2_0;
    acc1_0 = acc1_0 + vec4<f32>(a2_0.y) * b2_0;
    acc2_0 = acc2_0 + vec4<f32>(a2_0.z) * b2_0;
    acc3_0 = acc3_0 + vec4<f32>(a2_0.w) * b2_0;
    let a3_0 = As[off_a + 51i + ty];
    let b3_0 = Bs[off_b + 51i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a3_0.x) * b3_0;
    acc1_0 = acc1_0 + vec4<f32>(a3_0.y) * b3_0;
    acc2_0 = acc2_0 + vec4<f32>(a3_0.z) * b3_0;
    acc3_0 = acc3_0 + vec4<f32>(a3_0.w) * b3_0;
    let a4_0 = As[off_a + 68i + ty];
    let b4_0 = Bs[off_b + 68i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a4_0.x) * b4_0;
    acc1_0 = acc1_0 + vec4<f32>(a4_0.y) * b4_0;
    acc2_0 = acc2_0 + vec4<f32>(a4_0.z) * b4_0;
    acc3_0 = acc3_0 + vec4<f32>(a4_0.w) * b4_0;
    let a5_0 = As[off_a + 85i + ty];
    let b5_0 = Bs[off_b + 85i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a5_0.x) * b5_0;
    acc1_0 = acc1_0 + vec4<f32>(a5_0.y) * b5_0;
    acc2_0 = acc2_0 + vec4<f32>(a5_0.z) * b5_0;
    acc3_0 = acc3_0 + vec4<f32>(a5_0.w) * b5_0;
    let a6_0 = As[off_a + 102i + ty];
    let b6_0 = Bs[off_b + 102i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a6_0.x) * b6_0;
    acc1_0 = acc1_0 + vec4<f32>(a6_0.y) * b6_0;
    acc2_0 = acc2_0 + vec4<f32>(a6_0.z) * b6_0;
    acc3_0 = acc3_0 + vec4<f32>(a6_0.w) * b6_0;
    let a7_0 = As[off_a + 119i + ty];
    let b7_0 = Bs[off_b + 119i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a7_0.x) * b7_0;
    acc1_0 = acc1_0 + vec4<f32>(a7_0.y) * b7_0;
    acc2_0 = acc2_0 + vec4<f32>(a7_0.z) * b7_0;
    acc3_0 = acc3_0 + vec4<f32>(a7_0.w) * b7_0;
    let a8_0 = As[off_a + 136i + ty];
    let b8_0 = Bs[off_b + 136i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a8_0.x) * b8_0;
    acc1_0 = acc1_0 + vec4<f32>(a8_0.y) * b8_0;
    acc2_0 = acc2_0 + vec4<f32>(a8_0.z) * b8_0;
    acc3_0 = acc3_0 + vec4<f32>(a8_0.w) * b8_0;
    let a9_0 = As[off_a + 153i + ty];
    let b9_0 = Bs[off_b + 153i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a9_0.x) * b9_0;
    acc1_0 = acc1_0 + vec4<f32>(a9_0.y) * b9_0;
    acc2_0 = acc2_0 + vec4<f32>(a9_0.z) * b9_0;
    acc3_0 = acc3_0 + vec4<f32>(a9_0.w) * b9_0;
    let a10_0 = As[off_a + 170i + ty];
    let b10_0 = Bs[off_b + 170i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a10_0.x) * b10_0;
    acc1_0 = acc1_0 + vec4<f32>(a10_0.y) * b10_0;
    acc2_0 = acc2_0 + vec4<f32>(a10_0.z) * b10_0;
    acc3_0 = acc3_0 + vec4<f32>(a10_0.w) * b10_0;
    let a11_0 = As[off_a + 187i + ty];
    let b11_0 = Bs[off_b + 187i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a11_0.x) * b11_0;
    acc1_0 = acc1_0 + vec4<f32>(a11_0.y) * b11_0;
    acc2_0 = acc2_0 + vec4<f32>(a11_0.z) * b11_0;
    acc3_0 = acc3_0 + vec4<f32>(a11_0.w) * b11_0;
    let a12_0 = As[off_a + 204i + ty];
    let b12_0 = Bs[off_b + 204i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a12_0.x) * b12_0;
    acc1_0 = acc1_0 + vec4<f32>(a12_0.y) * b12_0;
    acc2_0 = acc2_0 + vec4<f32>(a12_0.z) * b12_0;
    acc3_0 = acc3_0 + vec4<f32>(a12_0.w) * b12_0;
    let a13_0 = As[off_a + 221i + ty];
    let b13_0 = Bs[off_b + 221i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a13_0.x) * b13_0;
    acc1_0 = acc1_0 + vec4<f32>(a13_0.y) * b13_0;
    acc2_0 = acc2_0 + vec4<f32>(a13_0.z) * b13_0;
    acc3_0 = acc3_0 + vec4<f32>(a13_0.w) * b13_0;
    let a14_0 = As[off_a + 238i + ty];
    let b14_0 = Bs[off_b + 238i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a14_0.x) * b14_0;
    acc1_0 = acc1_0 + vec4<f32>(a14_0.y) * b14_0;
    acc2_0 = acc2_0 + vec4<f32>(a14_0.z) * b14_0;
    acc3_0 = acc3_0 + vec4<f32>(a14_0.w) * b14_0;
    let a15_0 = As[off_a + 255i + ty];
    let b15_0 = Bs[off_b + 255i + tx];
    acc0_0 = acc0_0 + vec4<f32>(a15_0.x) * b15_0;
    acc1_0 = acc1_0 + vec4<f32>(a15_0.y) * b15_0;
    acc2_0 = acc2_0 + vec4<f32>(a15_0.z) * b15_0;
    acc3_0 = acc3_0 + vec4<f32>(a15_0.w) * b15_0;
    As[next_a + a_st0] = ra0;
    Bs[next_b + b_st0] = rb0;
    workgroupBarrier();
  }
  let out_base = batch * params.M * params.N;
  let m0 = row0 + 0i + ty * 4i;
  if (m0 < params.M) {
    let row0_2 = out_base + m0 * params.N;
    let n0_0 = col0 + 0i + tx * 4i;
    if (n0_0 < params.N) {
      out[(row0_2 + n0_0) / 4i] = acc0_0;
    }
  }
  let m1 = row0 + 1i + ty * 4i;
  if (m1 < params.M) {
    let row1 = out_base + m1 * params.N;
    let n1_0 = col0 + 0i + tx * 4i;
    if (n1_0 < params.N) {
      out[(row1 + n1_0) / 4i] = acc1_0;
    }
  }
  let m2 = row0 + 2i + ty * 4i;
  if (m2 < params.M) {
    let row2 = out_base + m2 * params.N;
    let n2_0 = col0 + 0i + tx * 4i;
    if (n2_0 < params.N) {
      out[(row2 + n2_0) / 4i] = acc2_0;
    }
  }
  let m3 = row0 + 3i + ty * 4i;
  if (m3 < params.M) {
    let row3 = out_base + m3 * params.N;
    let n3_0 = col0 + 0i + tx * 4i;
    if (n3_0 < params.N) {
      out[(row3 + n3_0) / 4i] = acc3_0;
    }
  }
}
