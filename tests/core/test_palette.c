/* Palette PNGs and colour chunks through the library: palette pixels
 * (RAIIAF_FMT_INDEX8) written with PLTE, tRNS, gAMA and cHRM come back
 * from raiiaf_get_png_colour() and raiiaf_decode_image(INDEX8) as given,
 * at the smallest bit depth that holds the palette; bad palettes and
 * indices asked of a PNG without palette are refused. */
#include "raiiaf.h"
#include "testlib.h"

#include <string.h>

#define W 11
#define H 5

static raiiaf_ctx *open_written(raiiaf_writer *w, void **file)
{
    size_t size;
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_writer_write_memory(w, file, &size) == RAIIAF_OK, "written: %s",
          raiiaf_writer_message(w));
    CHECK(raiiaf_open_memory(ctx, *file, size) == RAIIAF_OK, "opens");
    return ctx;
}

static void check_palette(unsigned count, int want_depth)
{
    uint8_t pal[256 * 3], alpha[3] = {0, 128, 255}, idx[W * H];
    for (unsigned i = 0; i < count * 3; i++)
        pal[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < W * H; i++)
        idx[i] = (uint8_t)((i * 7) % count);
    raiiaf_pixels px = {.width = W, .height = H, .format = RAIIAF_FMT_INDEX8, .data = idx,
                        .gamma = 0.45455, .has_chromaticities = 1, .white_x = 0.3127,
                        .white_y = 0.329, .red_x = 0.64, .red_y = 0.33, .green_x = 0.3,
                        .green_y = 0.6, .blue_x = 0.15, .blue_y = 0.06, .palette = pal,
                        .palette_count = count, .palette_alpha = alpha,
                        .palette_alpha_count = count < 3 ? count : 3};
    raiiaf_writer *w = raiiaf_writer_new();
    CHECK(raiiaf_writer_set_image_pixels(w, &px, 6) == RAIIAF_OK, "%u colours: encoded: %s", count,
          raiiaf_writer_message(w));
    void *file = NULL;
    raiiaf_ctx *ctx = open_written(w, &file);
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK && info.png_color_type == 3 &&
              info.png_bit_depth == want_depth,
          "%u colours: palette PNG of depth %d (got type %d depth %d)", count, want_depth,
          info.png_color_type, info.png_bit_depth);
    raiiaf_png_colour c;
    CHECK(raiiaf_get_png_colour(ctx, &c) == RAIIAF_OK, "%u colours: colour read", count);
    CHECK(c.palette_count == count && !memcmp(c.palette, pal, count * 3), "%u colours: PLTE", count);
    CHECK(c.palette_alpha_count == px.palette_alpha_count &&
              !memcmp(c.palette_alpha, alpha, c.palette_alpha_count),
          "%u colours: tRNS", count);
    CHECK(c.has_gamma && c.gamma > 0.4545 && c.gamma < 0.4546, "%u colours: gAMA %f", count, c.gamma);
    CHECK(c.has_chromaticities && c.red_x > 0.6399 && c.red_x < 0.6401 && c.blue_y > 0.0599 &&
              c.blue_y < 0.0601,
          "%u colours: cHRM", count);
    CHECK(c.srgb_intent == -1 && !c.has_icc && !c.has_trns_value, "%u colours: no sRGB, iCCP", count);
    uint8_t back[W * H];
    CHECK(raiiaf_decode_image(ctx, RAIIAF_FMT_INDEX8, back, sizeof back) == RAIIAF_OK &&
              !memcmp(back, idx, sizeof idx),
          "%u colours: indices back: %s", count, raiiaf_ctx_message(ctx));
    uint8_t rgba[W * H * 4];
    CHECK(raiiaf_decode_image(ctx, RAIIAF_FMT_RGBA8, rgba, sizeof rgba) == RAIIAF_OK, "rgba");
    int bad = 0;
    for (int i = 0; i < W * H; i++) {
        unsigned k = idx[i];
        bad += memcmp(rgba + 4 * i, pal + 3 * k, 3) != 0 ||
               rgba[4 * i + 3] != (k < px.palette_alpha_count ? alpha[k] : 255);
    }
    CHECK(bad == 0, "%u colours: RGBA from palette and tRNS (%d wrong)", count, bad);
    raiiaf_ctx_free(ctx);
    raiiaf_free(file);
    raiiaf_writer_free(w);
}

int main(void)
{
    check_palette(2, 1);
    check_palette(3, 2);
    check_palette(16, 4);
    check_palette(17, 8);
    check_palette(256, 8);

    uint8_t pal[6] = {0, 0, 0, 255, 255, 255}, idx[4] = {0, 1, 2, 0};
    raiiaf_pixels px = {.width = 2, .height = 2, .format = RAIIAF_FMT_INDEX8, .data = idx,
                        .palette = pal, .palette_count = 2};
    raiiaf_writer *w = raiiaf_writer_new();
    CHECK(raiiaf_writer_set_image_pixels(w, &px, 6) == RAIIAF_EINVAL &&
              strstr(raiiaf_writer_message(w), "index 2"),
          "an index beyond the palette is refused: %s", raiiaf_writer_message(w));
    px.palette_count = 0;
    CHECK(raiiaf_writer_set_image_pixels(w, &px, 6) == RAIIAF_EINVAL, "an empty palette is refused");
    px.palette_count = 2;
    px.palette_alpha_count = 3;
    CHECK(raiiaf_writer_set_image_pixels(w, &px, 6) == RAIIAF_EINVAL, "more alpha than entries refused");

    /* An RGB PNG has no indices to give, and no palette. */
    uint8_t rgb[2 * 2 * 3] = {0};
    raiiaf_pixels px2 = {.width = 2, .height = 2, .format = RAIIAF_FMT_RGB8, .data = rgb,
                         .has_srgb = 1, .srgb_intent = 0};
    CHECK(raiiaf_writer_set_image_pixels(w, &px2, 6) == RAIIAF_OK, "rgb encoded");
    void *file = NULL;
    raiiaf_ctx *ctx = open_written(w, &file);
    uint8_t out[4];
    raiiaf_png_colour c;
    CHECK(raiiaf_decode_image(ctx, RAIIAF_FMT_INDEX8, out, sizeof out) == RAIIAF_EINVAL,
          "indices of an RGB PNG refused");
    CHECK(raiiaf_get_png_colour(ctx, &c) == RAIIAF_OK && c.palette_count == 0 && c.srgb_intent == 0,
          "RGB PNG: no palette, sRGB intent 0");
    raiiaf_ctx_free(ctx);
    raiiaf_free(file);
    raiiaf_writer_free(w);
    return tl_finish();
}
