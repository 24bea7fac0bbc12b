// ggml tensor types as GGUF stores them: numeric ids, names, block geometry, CPU dequantization
// (bit-exact to ggml's dequantize_row_* reference) and block packers for the 32-element formats.
// Implemented in ggml_types.cpp (table), ggml_dequantize.cpp and ggml_pack.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vkq::model {

// ggml's ids (ggml.h enum ggml_type). Gaps are ids ggml has retired (4, 5, 31-33, 36-38).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

// Elements per block of the legacy formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (ggml's QK4_0 etc.).
inline constexpr uint64_t kLegacyBlockSize = 32;

// The type with this GGUF id, or nullopt for an id ggml never assigned or has retired.
std::optional<GgmlType> ggml_type_from_id(uint32_t id);

// Upper-case name as llama-quantize prints it: "F32", "Q4_0", "Q4_K", "BF16", "IQ2_XXS".
const char* ggml_type_name(GgmlType t);

// Case-insensitive lookup of ggml_type_name ("q4_0", "Q8_0", "bf16"); nullopt when unknown.
std::optional<GgmlType> find_ggml_type(std::string_view name);
// As find_ggml_type, but an unknown name is a vkq::Error that lists the known names.
GgmlType ggml_type_from_name(std::string_view name);

uint64_t ggml_block_size(GgmlType t);   // elements per block (1 for F32, F16, BF16, I8, ...)
uint64_t ggml_block_bytes(GgmlType t);  // bytes per block
// Bytes of a row of n elements; vkq::Error when n is not a whole number of blocks.
uint64_t ggml_row_size(GgmlType t, uint64_t n);

// Types dequantize_row decodes: kReadableTypes.
bool is_supported_for_reading(GgmlType t);
// The readable types, for messages.
inline constexpr const char* kReadableTypes =
    "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS";
// vkq::Error naming the tensor and its type when is_supported_for_reading(t) is false.
void require_readable(GgmlType t, std::string_view tensor_name);

// Decodes n elements (a whole number of blocks) from src into dst. src needs no alignment.
// Throws vkq::Error for types that are not supported for reading.
void dequantize_row(GgmlType t, const uint8_t* src, float* dst, uint64_t n);

// Block packers: one 32-element block from its parameters and integer codes, in ggml's byte
// layout (fp16 scale first; Q4/Q5 nibble j holds element j in the low half and j+16 in the
// high half; Q5 bit 4 of element k is bit k of the little-endian 32-bit qh). d and m are
// stored as fp16 (float_to_half): pass values already rounded with round_to_half when the
// codes were computed against them. A code outside its range is a vkq::Error.
void pack_q8_0_block(float d, const int8_t* codes, uint8_t* dst);             // codes in [-127, 127]
void pack_q4_0_block(float d, const uint8_t* codes, uint8_t* dst);            // [0, 15], x = d*(q-8)
void pack_q4_1_block(float d, float m, const uint8_t* codes, uint8_t* dst);   // [0, 15], x = d*q + m
void pack_q5_0_block(float d, const uint8_t* codes, uint8_t* dst);            // [0, 31], x = d*(q-16)
void pack_q5_1_block(float d, float m, const uint8_t* codes, uint8_t* dst);   // [0, 31], x = d*q + m

// Packs a row of n elements (a multiple of 32) of Q8_0, Q4_0, Q4_1, Q5_0 or Q5_1: d and m hold
// one value per block (m is ignored, and may be null, for the _0 types), codes one per element.
void pack_row(GgmlType t, const float* d, const float* m, const int32_t* codes, uint64_t n, uint8_t* dst);

// The types written from super-block parameters: Q2_K … Q6_K, IQ4_XS (256 elements) and IQ4_NL (32).
bool is_superblock_type(GgmlType t);
// Packs one 256-element super-block of Q2_K … Q6_K. codes: the unsigned codes u of ŵ = d·sc·(u − zero) − dmin·m
// (Q2_K 0..3; Q3_K 0..7, zero 4; Q4_K 0..15; Q5_K 0..31; Q6_K 0..63, zero 32), in element order; scales/mins: the
// quantized sub-block values in sub-block order (16 for Q2_K/Q3_K/Q6_K, 8 for Q4_K/Q5_K; Q2_K 0..15, Q3_K −32..31,
// Q4_K/Q5_K 0..63, Q6_K −128..127; mins only for Q2_K/Q4_K/Q5_K, may be null otherwise); d and dmin fp16-exact.
// IQ4_NL (32 elements: d only) and IQ4_XS (8 scales −32..31) take codes 0..15 into ggml's kvalues_iq4nl.
// A value outside its range is a vkq::Error.
void pack_superblock(GgmlType t, float d, float dmin, const int32_t* scales, const int32_t* mins, const int32_t* codes,
                     uint8_t* dst);

// Encodes n floats as F32, F16 or BF16 (round to nearest even), the unquantized GGUF types.
void encode_float_row(GgmlType t, const float* src, uint8_t* dst, uint64_t n);

}  // namespace vkq::model
