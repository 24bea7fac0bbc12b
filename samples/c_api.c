/* Sample: embed vkquant from C — print the device list as JSON and run the selftest.
 *   vkquant-sample-c [DEVICE] */
#include <stdio.h>
#include <vkquant/vkquant.h>

int main(int argc, char** argv) {
  const char* device = argc > 1 ? argv[1] : NULL;
  char* devices = vkq_devices_json(device);
  if (!devices) {
    fprintf(stderr, "error: %s\n", vkq_last_error());
    return 2;
  }
  printf("vkquant %s\n%s\n", vkq_version(), devices);
  vkq_free(devices);
  char* report = NULL;
  const int status = vkq_selftest(device, 0, 0, &report);
  if (status < 0) {
    fprintf(stderr, "error: %s\n", vkq_last_error());
    return 2;
  }
  printf("selftest %s\n", status == 0 ? "passed" : "FAILED");
  vkq_free(report);
  return status;
}
