// Compensated (Kahan) summation: `precise` stops compilers from reassociating it away.
// ALGORITHMS.md §1: no fp32 sum may run over more than a few thousand tokens uncompensated.
void kahan_add(inout precise float sum, inout precise float comp, float value) {
  precise float y = value - comp;
  precise float t = sum + y;
  comp = (t - sum) - y;
  sum = t;
}
