// ALGORITHMS.md §4 GBS step 3 — Cholesky, triangular inverse, U = chol(H̃⁻¹)ᵀ, damping escalation.
#include "reference/cholesky.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

constexpr int kMaxRetries = 6;
constexpr double kZeroDampingRetry = 0.001;

std::string describe(const CholeskyStatus& s, const char* what) {
  std::ostringstream o;
  o << what << " is not positive definite (pivot " << s.pivot << " at column " << s.column << ")";
  return o.str();
}

bool all_finite(const std::vector<double>& a) {
  for (double v : a)
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

CholeskyStatus cholesky_lower(std::vector<double>& a, size_t n) {
  if (a.size() != n * n) throw vkq::Error("cholesky: matrix has " + std::to_string(a.size()) + " entries, expected n² = " + std::to_string(n * n));
  const double eps = std::numeric_limits<double>::epsilon();
  for (size_t j = 0; j < n; ++j) {
    double* rj = &a[j * n];
    double s = rj[j];
    for (size_t k = 0; k < j; ++k) s -= rj[k] * rj[k];
    // Relative threshold: below it the pivot is rounding noise of an (almost) singular matrix.
    if (!std::isfinite(s) || !(s > 4.0 * double(n) * eps * std::fabs(rj[j])) || !(s > 0))
      return {false, j, s};
    const double d = std::sqrt(s);
    rj[j] = d;
    for (size_t i = j + 1; i < n; ++i) {
      double* ri = &a[i * n];
      double t = ri[j];
      for (size_t k = 0; k < j; ++k) t -= ri[k] * rj[k];
      ri[j] = t / d;
    }
    for (size_t k = j + 1; k < n; ++k) rj[k] = 0;  // clear the upper triangle
  }
  return {};
}

std::vector<double> invert_lower(const std::vector<double>& l, size_t n) {
  std::vector<double> inv(n * n, 0.0);
  for (size_t c = 0; c < n; ++c) {  // column c of L⁻¹ solves L x = e_c; x_i = 0 for i < c
    inv[c * n + c] = 1.0 / l[c * n + c];
    for (size_t i = c + 1; i < n; ++i) {
      double s = 0;
      for (size_t k = c; k < i; ++k) s += l[i * n + k] * inv[k * n + c];
      inv[i * n + c] = -s / l[i * n + i];
    }
  }
  return inv;
}

std::vector<double> cholesky_inverse(const std::vector<double>& l, size_t n) {
  const std::vector<double> li = invert_lower(l, n);
  std::vector<double> out(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) {
      double s = 0;  // (L⁻ᵀ L⁻¹)_ij = Σ_k L⁻¹_ki L⁻¹_kj over k ≥ max(i, j) = i
      for (size_t k = i; k < n; ++k) s += li[k * n + i] * li[k * n + j];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  return out;
}

CholeskyStatus upper_cholesky_of_inverse(const std::vector<double>& l, size_t n, std::vector<double>& u) {
  std::vector<double> lh = cholesky_inverse(l, n);
  const CholeskyStatus st = cholesky_lower(lh, n);
  if (!st.ok) return st;
  u.assign(n * n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i; j < n; ++j) u[i * n + j] = lh[j * n + i];  // U = Lhᵀ
  return {};
}

void cholesky_solve(const std::vector<double>& l, size_t n, double* b) {
  for (size_t i = 0; i < n; ++i) {  // L y = b
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {  // Lᵀ x = y
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

DampedCholesky factor_with_damping(size_t n, double delta,
                                   const std::function<std::vector<double>(double)>& build) {
  if (!(delta >= 0) || !std::isfinite(delta)) throw vkq::Error("damping: δ = " + std::to_string(delta) + " must be finite and ≥ 0");
  DampedCholesky r;
  r.n = n;
  for (int attempt = 0; attempt <= kMaxRetries; ++attempt) {
    std::vector<double> h = build(delta);
    if (h.size() != n * n) throw vkq::Error("damping: regularised Gram has " + std::to_string(h.size()) + " entries, expected " + std::to_string(n * n));
    std::string why;
    if (!all_finite(h)) {
      why = "the regularised Gram has a non-finite entry";
    } else {
      std::vector<double> l = h;
      CholeskyStatus st = cholesky_lower(l, n);
      if (!st.ok) {
        why = describe(st, "H̃");
      } else {
        std::vector<double> u;
        st = upper_cholesky_of_inverse(l, n, u);
        if (!st.ok) {
          why = describe(st, "H̃⁻¹");
        } else if (!all_finite(l) || !all_finite(u)) {
          why = "the factors have a non-finite entry";
        } else {
          r.h_reg = std::move(h);
          r.l = std::move(l);
          r.u = std::move(u);
          r.delta = delta;
          return r;
        }
      }
    }
    const double next = delta > 0 ? delta * 10 : kZeroDampingRetry;
    std::ostringstream o;
    o << "damping δ = " << delta << ": " << why;
    if (attempt < kMaxRetries) o << "; retrying with δ = " << next;
    r.retries.push_back(o.str());
    delta = next;
  }
  std::ostringstream o;
  o << "Cholesky of the regularised Gram failed after " << kMaxRetries << " damping retries:";
  for (const auto& m : r.retries) o << "\n  " << m;
  throw vkq::Error(o.str());
}

}  // namespace vkq::ref
