#version 450
// beam_sweep: ALGORITHMS.md §4.5 — bounded search of width K over the GBS sweep (§4 step 4), one
// workgroup per row, static groups only, the choices of reference/beam.hpp:
// - every beam expands to every code; candidates are ordered by (score, parent, rank, code) with
//   score = max(loss, the parent's rounding-choice loss) and rank 0 for the grid's own rounding
//   choice; a beam's best K children are found first (the global best K lie among them), then
//   ranked across beams;
// - the greedy path's child (the rounding choice of the greedy beam) is always kept: when it
//   falls out of the best K it replaces the K-th;
// - K = 1 is the greedy sweep with the same arithmetic (common/gbs_feedback.glsl), bit for bit.
// Each beam carries its own block of the row (shared memory, double-buffered across columns) and
// its block errors; the rows beyond the block live in the K·m-row matrix Wcur (beam-major: row
// k·m + r is beam k of row r). At the block end each beam's tail is gathered from its ancestor at
// the block start into Wnext, and its errors go to E for the host's tail GEMM on Wnext.
// History: per (row, position, beam) the parent and code, so mode 1 backtracks the best beam and
// writes codes and dequantized values in original column order.
#include "grid.glsl"
#include "gbs_feedback.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint K = 4;       // beam width
layout(constant_id = 2) const uint BMAX = 128;  // block capacity
layout(constant_id = 3) const uint FMT = 0;
layout(constant_id = 4) const uint BITS = 4;
layout(constant_id = 5) const uint SYM = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer WCur { float wcur[]; };     // K·m × n, processing order
layout(std430, binding = 1) writeonly buffer WNext { float wnext[]; };  // K·m × n
layout(std430, binding = 2) readonly buffer UBuf { float u[]; };        // n × n
layout(std430, binding = 3) readonly buffer PermBuf { uint perm[]; };   // n
layout(std430, binding = 4) readonly buffer PBuf { vec4 params[]; };    // m × ng, original groups
layout(std430, binding = 5) writeonly buffer EBuf { float e_out[]; };   // K·m × bl
layout(std430, binding = 6) buffer StateBuf { uint state[]; };          // m × (K + 2): losses, count, greedy
layout(std430, binding = 7) buffer HistBuf { uint hist[]; };            // m × n × K: parent << 16 | code + 32768
layout(std430, binding = 8) writeonly buffer CBuf { int codes[]; };     // m × n, original order
layout(std430, binding = 9) writeonly buffer DBuf { float deq[]; };     // m × n, original order
layout(std430, binding = 10) writeonly buffer LBuf { float loss_out[]; };  // m

layout(push_constant) uniform Push {
  uint m, n;
  uint i1, bl;
  uint g, ng;
  uint first;  // 1 on the first block: one beam holding T, loss 0
  uint mode;   // 0: sweep the block, 1: backtrack the best beam
} p;

const uint SW = K + 2u;  // state words per row

shared float ws[2u * K * BMAX];  // beam rows of the block, two buffers
shared float es[2u * K * BMAX];  // beam block errors, two buffers
shared float beam_loss[2u * K];
shared uint anc[2u * K];         // ancestor at the block start
shared float c_score[K * K], c_loss[K * K];
shared int c_code[K * K];
shared uint c_meta[K * K];       // parent << 1 | rank
shared uint c_pos[K * K];
shared uint sel[K];
shared float ek[K];
shared uint s_nbeams, s_greedy;

// a before b: (score, parent, rank, code)
bool cand_before(uint a, uint b) {
  if (c_score[a] != c_score[b]) return c_score[a] < c_score[b];
  if (c_meta[a] != c_meta[b]) return c_meta[a] < c_meta[b];
  return c_code[a] < c_code[b];
}

void backtrack(uint row) {
  const uint nb = state[row * SW + K];
  uint best = 0u;
  for (uint k = 1u; k < nb; ++k)
    if (uintBitsToFloat(state[row * SW + k]) < uintBitsToFloat(state[row * SW + best])) best = k;
  loss_out[row] = uintBitsToFloat(state[row * SW + best]);
  uint b = best;
  for (uint q = p.n; q-- > 0u;) {
    const uint h = hist[(row * p.n + q) * K + b];
    const int code = int(h & 0xffffu) - 32768;
    const uint col = perm[q];
    codes[row * p.n + col] = code;
    deq[row * p.n + col] = grid_dequantize(code, params[row * p.ng + col / p.g]);
    b = h >> 16;
  }
}

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint row = gl_WorkGroupID.x;
  if (row >= p.m) return;  // whole workgroup: uniform
  if (p.mode == 1u) {
    if (lid == 0u) backtrack(row);
    return;
  }
  const ivec2 range = grid_code_range(FMT, BITS);
  const uint levels = uint(range.y - range.x + 1);
  const uint kc = min(K, levels);  // children kept per beam
  const uint i2 = p.i1 + p.bl;

  for (uint e = lid; e < K * p.bl; e += WG) {
    const uint k = e / p.bl, t = e % p.bl;
    ws[k * BMAX + t] = wcur[(k * p.m + row) * p.n + p.i1 + t];
  }
  if (lid < K) {
    beam_loss[lid] = p.first != 0u ? 0.0 : uintBitsToFloat(state[row * SW + lid]);
    anc[lid] = lid;
  }
  if (lid == 0u) {
    s_nbeams = p.first != 0u ? 1u : state[row * SW + K];
    s_greedy = p.first != 0u ? 0u : state[row * SW + K + 1u];
  }
  barrier();

  uint cur = 0u;
  for (uint j = 0u; j < p.bl; ++j) {
    const uint pos = p.i1 + j, nxt = cur ^ 1u;
    const vec4 gp = params[row * p.ng + perm[pos] / p.g];
    const float d = u[pos * p.n + pos];
    const uint nb = s_nbeams;
    const uint keep = min(K, nb * levels);

    // A: each beam's best kc children, rounding choice first.
    if (lid < nb) {
      const uint b = lid;
      const float x = ws[cur * K * BMAX + b * BMAX + j];
      const float lb = beam_loss[cur * K + b];
      const int cr = grid_quantize(x, gp, FMT, BITS);
      const float lr = gbs_add_loss(lb, x - grid_dequantize(cr, gp), d);
      const uint base = b * kc;
      c_score[base] = lr, c_loss[base] = lr, c_code[base] = cr, c_meta[base] = b << 1;
      float last_s = lr;
      int last_c = range.x - 1;
      // The grid is monotone in the code, so the kc − 1 codes nearest x after cr lie within kc − 1 codes of it:
      // scan only those (exactly the candidates a scan of the whole range would choose).
      const int lo = max(range.x, cr - int(kc) + 1), hi = min(range.y, cr + int(kc) - 1);
      for (uint r = 1u; r < kc; ++r) {
        float best_s = 0.0, best_l = 0.0;
        int best_c = range.x - 1;
        for (int c = lo; c <= hi; ++c) {
          if (c == cr) continue;
          const float l = gbs_add_loss(lb, x - grid_dequantize(c, gp), d);
          const float s = max(l, lr);
          const bool after_last = s > last_s || (s == last_s && c > last_c);
          const bool better = best_c < range.x || s < best_s || (s == best_s && c < best_c);
          if (after_last && better) best_s = s, best_l = l, best_c = c;
        }
        c_score[base + r] = best_s, c_loss[base + r] = best_l, c_code[base + r] = best_c;
        c_meta[base + r] = (b << 1) | 1u;
        last_s = best_s, last_c = best_c;
      }
    }
    barrier();
    // B: rank every candidate among all; the best `keep` take their slots.
    const uint nc = nb * kc;
    for (uint i = lid; i < nc; i += WG) {
      uint before = 0u;
      for (uint o = 0u; o < nc; ++o)
        if (o != i && cand_before(o, i)) ++before;
      c_pos[i] = before;
      if (before < keep) sel[before] = i;
    }
    barrier();
    // C: keep the greedy path's child (candidate 0 of the greedy beam).
    if (lid == 0u) {
      const uint gi = s_greedy * kc;
      if (c_pos[gi] >= keep) {
        sel[keep - 1u] = gi;
        s_greedy = keep - 1u;
      } else {
        s_greedy = c_pos[gi];
      }
      s_nbeams = keep;
    }
    barrier();
    // D: each new beam's error, loss, ancestry and history entry.
    if (lid < keep) {
      const uint i = sel[lid], parent = c_meta[i] >> 1;
      const float x = ws[cur * K * BMAX + parent * BMAX + j];
      ek[lid] = gbs_scaled_error(x - grid_dequantize(c_code[i], gp), d);
      beam_loss[nxt * K + lid] = c_loss[i];
      anc[nxt * K + lid] = anc[cur * K + parent];
      hist[(row * p.n + pos) * K + lid] = (parent << 16) | uint(c_code[i] + 32768);
    }
    barrier();
    // E: new beam rows (feedback from the parent's row) and block errors.
    for (uint e = lid; e < keep * p.bl; e += WG) {
      const uint k = e / p.bl, t = e % p.bl;
      const uint parent = c_meta[sel[k]] >> 1;
      const uint src = cur * K * BMAX + parent * BMAX + t, dst = nxt * K * BMAX + k * BMAX + t;
      if (t > j)  // later columns get the feedback; earlier ones keep the lineage's errors
        ws[dst] = gbs_feedback(ws[src], ek[k], u[pos * p.n + p.i1 + t]);
      else
        es[dst] = t < j ? es[src] : ek[k];
    }
    barrier();
    cur = nxt;
  }

  // Block end: errors for the tail GEMM, tails gathered from each beam's block-start ancestor.
  const uint nb = s_nbeams;
  for (uint e = lid; e < K * p.bl; e += WG) {
    const uint k = e / p.bl, t = e % p.bl;
    e_out[(k * p.m + row) * p.bl + t] = k < nb ? es[cur * K * BMAX + k * BMAX + t] : 0.0;
  }
  const uint tail = p.n - i2;
  for (uint e = lid; e < K * tail; e += WG) {
    const uint k = e / tail, t = i2 + e % tail;
    const uint a = k < nb ? anc[cur * K + k] : 0u;
    wnext[(k * p.m + row) * p.n + t] = wcur[(a * p.m + row) * p.n + t];
  }
  if (lid < K) state[row * SW + lid] = floatBitsToUint(beam_loss[cur * K + lid]);
  if (lid == 0u) {
    state[row * SW + K] = nb;
    state[row * SW + K + 1u] = s_greedy;
  }
}
