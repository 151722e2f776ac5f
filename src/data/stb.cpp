// The one translation unit of salm that compiles the stb image libraries (Debian's libstb-dev
// headers). Other files include <stb_image.h> / <stb_image_write.h> for the declarations only and
// link salm_eval. Decoders are limited to JPEG and PNG: the formats salm reads back.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>
