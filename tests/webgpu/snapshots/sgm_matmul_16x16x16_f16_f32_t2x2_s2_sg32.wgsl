// kernel 'sgm_matmul_16x16x16_f16_f32_t2x2_s2_sg32'
enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);

struct Params {
  N: i32,
  K: i32,
}

@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> b: array<f16>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let sg = i32(lidx) / 32i;
  let row0 = (i32(wid.y) * 2i + sg) * 32i;
  let col0 = i32(wid.x) * 32i;
  var acc: subgroup_matrix_result<f32, 16, 16> = subgroup_matrix_result<f32, 16, 16>(0.0f);
  var acc_2: subgroup_matrix_result<f32, 16, 16> = subgroup_matrix_result<f32, 16, 16>(0.0f);
  var acc_3: subgroup_matrix_result<f32, 16, 16> = subgroup_matrix_result<f32, 16, 16>(0.0f);
  var acc_4: subgroup_matrix_result<f32, 16, 16> = subgroup_matrix_result<f32, 16, 16>(0.0f);
  for (var k0: i32 = 0i; k0 < params.K; k0 += 16i) {
    let ta = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a, row0 * params.K + k0, params.K);
    let ta_2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a, (row0 + 16i) * params.K + k0, params.K);
    let tb = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&b, k0 * params.N + col0, params.N);
    let tb_2 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&b, k0 * params.N + (col0 + 16i), params.N);
    acc = subgroupMatrixMultiplyAccumulate(ta, tb, acc);
    acc_2 = subgroupMatrixMultiplyAccumulate(ta, tb_2, acc_2);
    acc_3 = subgroupMatrixMultiplyAccumulate(ta_2, tb, acc_3);
    acc_4 = subgroupMatrixMultiplyAccumulate(ta_2, tb_2, acc_4);
  }
  subgroupMatrixStore<row_major>(&c, row0 * params.N + col0, acc, params.N);
  subgroupMatrixStore<row_major>(&c, row0 * params.N + (col0 + 16i), acc_2, params.N);
  subgroupMatrixStore<row_major>(&c, (row0 + 16i) * params.N + col0, acc_3, params.N);
  subgroupMatrixStore<row_major>(&c, (row0 + 16i) * params.N + (col0 + 16i), acc_4, params.N);
}
