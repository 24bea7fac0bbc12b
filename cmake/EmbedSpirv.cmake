# cmake -DSPV=in.spv -DOUT=out.cpp -DNAME=name -P EmbedSpirv.cmake
# Writes the SPIR-V words as a uint32_t array inside a ShaderBlob named shader_blob_NAME.
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR rem "${nhex} % 8")
if(NOT rem EQUAL 0 OR nhex EQUAL 0)
  message(FATAL_ERROR "${SPV}: not a whole number of 32-bit words")
endif()
# SPIR-V is little-endian words on every host we build for: byte-swap each 8-hex group.
string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])" "0x\\4\\3\\2\\1u," words "${hex}")
math(EXPR nwords "${nhex} / 8")
file(WRITE ${OUT} "// Generated from ${NAME}.comp by cmake/EmbedSpirv.cmake.\n#include \"vk/shader_blob.hpp\"\nnamespace vkq::vk {\nstatic const uint32_t words_${NAME}[${nwords}] = {${words}};\nextern const ShaderBlob shader_blob_${NAME};\nconst ShaderBlob shader_blob_${NAME} = {\"${NAME}\", words_${NAME}, ${nwords}};\n}  // namespace vkq::vk\n")
