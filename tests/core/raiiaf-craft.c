/* raiiaf-craft KIND GOOD.raiiaf OUT.raiiaf [N [M]]: writes one crafted
 * hostile file for the benchmarks (bench/hostile.sh). KIND:
 *   settings N       generation_settings with N keys
 *   bomb N           the image chunk: the good PNG then N zero bytes
 *   interlaced W H   the image: a W x H grey Adam7 PNG, all black
 * Every size, offset and hash in OUT is true. */
#include "craft.h"

#include <stdlib.h>
#include <string.h>

static tl_bytes interlaced_png(uint32_t w, uint32_t h)
{
    craft_png_out b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    craft_png_to_memory(png, &b);
    png_set_compression_level(png, 9);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    uint8_t *row = calloc(w, 1);
    for (int p = 0; p < passes; p++)
        for (uint32_t y = 0; y < h; y++)
            png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    return (tl_bytes){b.data, b.size};
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: raiiaf-craft settings|bomb|interlaced GOOD OUT N [M]\n");
        return 2;
    }
    tl_bytes good = tl_read_file(argv[2]);
    if (!good.data)
        return 1;
    unsigned long long n = strtoull(argv[4], NULL, 10);
    tl_bytes out = {0};
    if (!strcmp(argv[1], "settings")) {
        out = craft_many_settings(&good, (size_t)n);
    } else if (!strcmp(argv[1], "bomb")) {
        tl_bytes png = craft_png_of(&good);
        out = craft_image(&good, png.data, png.size, n);
        free(png.data);
    } else if (!strcmp(argv[1], "interlaced") && argc > 5) {
        tl_bytes png = interlaced_png((uint32_t)n, (uint32_t)strtoul(argv[5], NULL, 10));
        out = craft_image(&good, png.data, png.size, 0);
        free(png.data);
    } else {
        fprintf(stderr, "raiiaf-craft: unknown kind %s\n", argv[1]);
        return 2;
    }
    bool ok = tl_write_file(argv[3], out.data, out.size);
    free(out.data);
    free(good.data);
    return ok ? 0 : 1;
}
