// Sample: embed vkquant through its C++ API — list the Vulkan devices, then check every
// kernel on the default device against its float64 reference.
//   vkquant-sample-devices [DEVICE]
#include <vkquant/vkquant.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  const std::string device = argc > 1 ? argv[1] : "";
  try {
    for (const auto& d : vkq::list_devices(device))
      std::printf("%s %u: %s (%s, subgroup %u)\n", d.chosen ? "*" : " ", d.index, d.name.c_str(), d.type.c_str(),
                  d.subgroup_size);
    vkq::SelftestOptions options;
    options.device = device;
    const vkq::SelftestReport report = vkq::run_selftest(options);
    int failed = 0;
    for (const auto& row : report.rows) failed += !row.passed;
    std::printf("selftest on %s: %zu checks, %d failed (seed %llu)\n", report.device.c_str(), report.rows.size(),
                failed, (unsigned long long)report.seed);
    return report.all_passed() ? 0 : 1;
  } catch (const vkq::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
