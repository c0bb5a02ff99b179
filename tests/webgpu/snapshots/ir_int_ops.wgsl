// kernel 'ir_int_ops'
struct Params {
  n: i32,
}

@group(0) @binding(0) var<storage, read> x: array<i32>;
@group(0) @binding(1) var<storage, read> y: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = i32(gid.x);
  if (i < params.n) {
    let a = x[i];
    let d = y[i];
    out[i * 28i + 0i] = a + d;
    out[i * 28i + 1i] = a - d;
    out[i * 28i + 2i] = a * d;
    out[i * 28i + 3i] = a / d;
    out[i * 28i + 4i] = a % d;
    out[i * 28i + 5i] = min(a, d);
    out[i * 28i + 6i] = max(a, d);
    out[i * 28i + 7i] = a & d;
    out[i * 28i + 8i] = a | d;
    out[i * 28i + 9i] = a ^ d;
    out[i * 28i + 10i] = a << (u32(d) & 31u);
    out[i * 28i + 11i] = a >> (u32(d) & 31u);
    out[i * 28i + 12i] = -a;
    out[i * 28i + 13i] = abs(a);
    out[i * 28i + 14i] = i32(u32(a) / u32(d));
    out[i * 28i + 15i] = i32(u32(a) % u32(d));
    out[i * 28i + 16i] = i32(u32(a) >> (u32(d) & 31u));
    out[i * 28i + 17i] = i32(a < d);
    out[i * 28i + 18i] = i32(a >= d);
    out[i * 28i + 19i] = select(-7i, 7i, a == d || (a > 0i && d < 0i));
    out[i * 28i + 20i] = i32(f32(a) * 1.5f);
    out[i * 28i + 21i] = i32(bool(a));
    out[i * 28i + 22i] = a;
    out[i * 28i + 23i] = 0i;
    out[i * 28i + 24i] = i32(-2147483647 - 1) + a;
    out[i * 28i + 25i] = i32(-2147483647 - 1);
    out[i * 28i + 26i] = 2i;
    out[i * 28i + 27i] = 2147483520i;
  }
}
