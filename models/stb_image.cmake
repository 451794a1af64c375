# stb_image.cmake — the build's copy of stb_image.h, made safe.
#
# Debian bookworm ships stb_image 2.27, whose JPEG Huffman decoder can index its tables
# with a negative symbol on a corrupt file (an out-of-bounds heap read; found by our
# fuzzer). The copy gets the bounds check that upstream added in 2.28. A header that
# already has it (2.28 or later) is copied as is; any other header stops the configure
# step: building with the hole, silently, is not an option.
#
# In: STB_INCLUDE_DIR (holds stb/stb_image.h), STB_OUTPUT (the copy to write).
# Included by models/CMakeLists.txt; tests/image.test.js runs it alone:
#   cmake -DSTB_INCLUDE_DIR=DIR -DSTB_OUTPUT=FILE -P models/stb_image.cmake
file(READ ${STB_INCLUDE_DIR}/stb/stb_image.h STB_IMAGE)
set(STB_227_ASSERT "   STBI_ASSERT((((j->code_buffer) >> (32 - h->size[c])) & stbi__bmask[h->size[c]]) == h->code[c]);")
string(REGEX MATCH "if *\\( *c *< *0 *\\|\\| *c *>= *256 *\\)" STB_HAS_228_CHECK "${STB_IMAGE}")
string(FIND "${STB_IMAGE}" "${STB_227_ASSERT}" STB_227_AT)
if(STB_HAS_228_CHECK)
  message(STATUS "stb_image.h has the JPEG Huffman bounds check of stb 2.28: used unpatched")
elseif(STB_227_AT GREATER -1)
  string(REPLACE "${STB_227_ASSERT}" "   if (c < 0 || c >= 256) return -1; /* DenseLab: stb_image 2.28's bounds check */" STB_IMAGE "${STB_IMAGE}")
else()
  string(REGEX MATCH "stb_image - v[0-9.]+" STB_VERSION_LINE "${STB_IMAGE}")
  message(FATAL_ERROR "${STB_INCLUDE_DIR}/stb/stb_image.h (${STB_VERSION_LINE}) has neither stb 2.28's JPEG "
    "Huffman bounds check ('if(c < 0 || c >= 256)' in stbi__jpeg_huff_decode) nor the 2.27 line that "
    "models/stb_image.cmake patches to add it:\n${STB_227_ASSERT}\n"
    "Install Debian's libstb-dev (2.27) or an stb_image.h of version 2.28 or later.")
endif()

# JPEG rows that no resize reads are not colour-converted: models/image.c says which rows it
# needs (STBI_JPEG_ROW_NEEDED); the conversion is about half of a large JPEG's decode and a
# 224x224 resize of a phone photo reads 224 of its 3,024 rows. The upsampling state still
# advances on every row, so the rows that are converted get the same bits. A header whose
# loop reads otherwise is copied without this (every row converted, as before).
set(STB_ROW_RESAMPLE "            int y_bot = r->ystep >= (r->vs >> 1);\n            coutput[k] = r->resample(")
set(STB_ROW_CONVERT "         }\n         if (n >= 3) {\n            stbi_uc *y = coutput[0];")
set(STB_ROW_FUNCTION "static stbi_uc *load_jpeg_image(stbi__jpeg *z, int *out_x, int *out_y, int *comp, int req_comp)")
string(FIND "${STB_IMAGE}" "${STB_ROW_RESAMPLE}" STB_RESAMPLE_AT)
string(FIND "${STB_IMAGE}" "${STB_ROW_RESAMPLE}" STB_RESAMPLE_LAST REVERSE)
string(FIND "${STB_IMAGE}" "${STB_ROW_CONVERT}" STB_CONVERT_AT)
string(FIND "${STB_IMAGE}" "${STB_ROW_CONVERT}" STB_CONVERT_LAST REVERSE)
string(FIND "${STB_IMAGE}" "${STB_ROW_FUNCTION}" STB_FUNCTION_AT)
if(STB_RESAMPLE_AT GREATER -1 AND STB_RESAMPLE_AT EQUAL STB_RESAMPLE_LAST AND STB_CONVERT_AT GREATER -1
   AND STB_CONVERT_AT EQUAL STB_CONVERT_LAST AND STB_FUNCTION_AT GREATER -1)
  string(REPLACE "${STB_ROW_RESAMPLE}" "            int y_bot = r->ystep >= (r->vs >> 1);\n            if (STBI_JPEG_ROW_NEEDED(j)) coutput[k] = r->resample(" STB_IMAGE "${STB_IMAGE}")
  string(REPLACE "${STB_ROW_CONVERT}" "         }\n         if (!STBI_JPEG_ROW_NEEDED(j)) continue; /* DenseLab: a row no resize reads */\n         if (n >= 3) {\n            stbi_uc *y = coutput[0];" STB_IMAGE "${STB_IMAGE}")
  string(REPLACE "${STB_ROW_FUNCTION}" "#ifndef STBI_JPEG_ROW_NEEDED\n#define STBI_JPEG_ROW_NEEDED(j) 1\n#endif\n${STB_ROW_FUNCTION}" STB_IMAGE "${STB_IMAGE}")
else()
  message(STATUS "stb_image.h: load_jpeg_image's row loop not as expected: every JPEG row is converted")
endif()
file(WRITE ${STB_OUTPUT}.new "${STB_IMAGE}")
configure_file(${STB_OUTPUT}.new ${STB_OUTPUT} COPYONLY)
