// kernel 'ir_vectors'
struct Params {
  n: i32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> q: array<vec2<i32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out_i: array<vec2<i32>>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(4, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = i32(gid.x);
  if (i < params.n) {
    let v = x[i];
    let w = vec4<f32>(v.w, v.z, v.y, v.x);
    var acc: vec4<f32> = v * w + vec4<f32>(1.0f, 2.0f, 3.0f, 4.0f);
    acc = select(max(acc, select(tanh(clamp(v, vec4<f32>(-15.0f), vec4<f32>(15.0f))), v, (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u))), acc + select(tanh(clamp(v, vec4<f32>(-15.0f), vec4<f32>(15.0f))), v, (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u)), ((bitcast<vec4<u32>>(acc) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u)) | ((bitcast<vec4<u32>>(select(tanh(clamp(v, vec4<f32>(-15.0f), vec4<f32>(15.0f))), v, (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u))) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u))) - select(min(abs(w), vec4<f32>(0.5f)), abs(w) + vec4<f32>(0.5f), ((bitcast<vec4<u32>>(abs(w)) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u)) | ((bitcast<vec4<u32>>(vec4<f32>(0.5f)) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u)));
    out[i] = acc;
    let p = q[i];
    out_i[i] = (vec2<i32>(p.y, p.x) << (vec2<u32>(vec2<i32>(1i, 33i)) & vec2<u32>(31u))) + vec2<i32>(p.x / 3i, p.y);
  }
}
