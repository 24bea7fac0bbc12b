/* vkquant C ABI: for programs (and other languages) that cannot use the C++ API.
 * Every function that can fail returns a status (0 = success) or NULL, and
 * vkq_last_error() then describes the failure (thread-local, valid until the next call). */
#ifndef VKQUANT_H
#define VKQUANT_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define VKQ_C_API __declspec(dllexport)
#else
#define VKQ_C_API __attribute__((visibility("default")))
#endif

VKQ_C_API const char* vkq_version(void);

/* The message of the last failure on this thread ("" when none). */
VKQ_C_API const char* vkq_last_error(void);

/* JSON describing every Vulkan device and its probed features (the format of
 * `vkquant devices --json`); `selector` (index, name substring, or NULL/"" for the default)
 * marks the chosen device. Free the result with vkq_free(). NULL on failure. */
VKQ_C_API char* vkq_devices_json(const char* selector);

/* Runs every kernel against its float64 reference on the selected device.
 * Returns 0 when all passed, 1 when any kernel failed, -1 on an error (see vkq_last_error).
 * `report_json` (optional) receives the per-kernel table as JSON; free it with vkq_free(). */
VKQ_C_API int vkq_selftest(const char* selector, int validation, unsigned long long seed, char** report_json);

/* Progress of vkq_quantize: one JSON object per event, with the fields of vkq::ProgressEvent
 * ({"stage","item","step","steps","fraction","elapsed_seconds","eta_seconds","message"}).
 * Called on the thread that called vkq_quantize; the string is valid only during the call. */
typedef void (*vkq_progress_fn)(const char* event_json, void* user);

/* A cancellation handle for vkq_quantize: vkq_cancel() may be called from any thread or from a
 * signal handler (it only stores to a lock-free atomic); the run stops at its next check and
 * writes nothing. NULL from vkq_cancel_token_new when out of memory. */
typedef struct vkq_cancel_token vkq_cancel_token;
VKQ_C_API vkq_cancel_token* vkq_cancel_token_new(void);
VKQ_C_API void vkq_cancel(vkq_cancel_token* token);
VKQ_C_API void vkq_cancel_token_free(vkq_cancel_token* token);

/* Quantizes a model (vkq::quantize). `options_json` is a JSON object whose keys are the field names
 * of vkq::QuantizeOptions (e.g. {"model_path": "m.gguf", "calib_path": "t.txt", "type": "Q4_0",
 * "output_path": "m-q4_0.gguf", "calib_seqs": 32}); omitted keys keep their defaults and an unknown
 * key or a value of the wrong type is an error naming the key. `progress` (optional) receives
 * every event; vkq_cancel(cancel) (optional token) from any thread stops the run, which then
 * writes nothing. Returns 0 on success, 2 when cancelled, -1 on an error (see vkq_last_error).
 * On success `result_json` (optional) receives the vkq::QuantizeResult as JSON (field names as in
 * the struct, "tensors" an array of vkq::TensorResult); free it with vkq_free(). */
VKQ_C_API int vkq_quantize(const char* options_json, vkq_progress_fn progress, void* user, vkq_cancel_token* cancel,
                           char** result_json);

/* Converts a Hugging Face checkpoint folder to an unquantized GGUF (vkq::convert). `options_json`
 * holds the fields of vkq::ConvertOptions ({"model_path": "dir", "output_path": "m.gguf",
 * "type": "BF16"}). Returns 0 on success, 2 when cancelled, -1 on an error (see vkq_last_error). */
VKQ_C_API int vkq_convert(const char* options_json, vkq_progress_fn progress, void* user, vkq_cancel_token* cancel);

VKQ_C_API void vkq_free(void* p);

#ifdef __cplusplus
}
#endif

#endif /* VKQUANT_H */
