/* The library's two PNG decoders give the same bytes: every PNG the tests
 * make (the PngSuite, the fixtures' images, every colour type and bit depth
 * made here with libpng under each filter, and PNGs of our own encoder)
 * decoded in every pixel format by libpng alone and by the libdeflate path
 * (core/src/pngfast.c), compared byte for byte. Where the libdeflate path
 * declines an image (interlaced, colour to grey, anything libpng must
 * judge) libpng decodes it; the test checks that it takes every image it
 * should: all valid non-interlaced PngSuite images, all generated ones.
 * Linked with the library's objects: rf_png_decode_how is internal.
 *
 * usage: test-core-pngpaths PNGSUITE_DIR FIXTURES_DIR FIXTURE...
 */
#include "internal.h"
#include "craft.h"
#include "raiiaf.h"

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int formats[] = {RAIIAF_FMT_G8,  RAIIAF_FMT_GA8,  RAIIAF_FMT_RGB8,
                              RAIIAF_FMT_RGBA8, RAIIAF_FMT_G16, RAIIAF_FMT_GA16,
                              RAIIAF_FMT_RGB16, RAIIAF_FMT_RGBA16, RAIIAF_FMT_INDEX8};
#define NFORMATS (sizeof formats / sizeof formats[0])

static unsigned covered, declined;

/* Decodes png in every format by both paths. Returns how many formats the
 * libdeflate path took; *natural_ok: libpng decodes it in its natural
 * format. */
static unsigned compare(const char *name, const uint8_t *png, size_t size, bool *natural_ok)
{
    rf_png_in in = {.data = png, .size = size};
    raiiaf_image_info info;
    rf_msg msg = {{0}};
    *natural_ok = false;
    if (rf_png_info(&in, &rf_default_limits, &info, NULL, NULL, NULL, &msg) != RAIIAF_OK)
        return 0;
    unsigned took = 0;
    for (size_t i = 0; i < NFORMATS; i++) {
        int f = formats[i];
        size_t need = (size_t)info.width * info.height * raiiaf_format_pixel_size(f);
        uint8_t *a = malloc(need ? need : 1), *b = malloc(need ? need : 1);
        if (!a || !b) {
            CHECK(false, "%s: out of memory", name);
            free(a);
            free(b);
            return took;
        }
        memset(a, 0x5a, need);
        memset(b, 0xa5, need);
        int ra = rf_png_decode_how(&in, &rf_default_limits, f, a, need, RF_PNG_LIBPNG, &msg);
        int rb = rf_png_decode_how(&in, &rf_default_limits, f, b, need, RF_PNG_FAST, &msg);
        int rc = rf_png_decode_how(&in, &rf_default_limits, f, NULL, 0, RF_PNG_FAST, &msg);
        if (f == info.format)
            *natural_ok = ra == RAIIAF_OK;
        if (rb != RAIIAF_OK && rb == ra) {
            CHECK(rc == ra, "%s: format %d: refused alike (%d)", name, f, ra);
        } else if (rb == RAIIAF_EUNSUPPORTED) {
            declined++;
            CHECK(rc == RAIIAF_EUNSUPPORTED, "%s: format %d: the check takes what decoding declines",
                  name, f);
        } else {
            covered++;
            took++;
            CHECK(rb == RAIIAF_OK && ra == RAIIAF_OK && rc == RAIIAF_OK,
                  "%s: format %d: libdeflate path %d, its check %d, libpng %d", name, f, rb, rc,
                  ra);
            if (rb == RAIIAF_OK && ra == RAIIAF_OK) {
                size_t at = 0;
                while (at < need && a[at] == b[at])
                    at++;
                CHECK(at == need, "%s: format %d: byte %zu of %zu differs (libpng %u, ours %u)",
                      name, f, at, need, at < need ? a[at] : 0, at < need ? b[at] : 0);
            }
        }
        free(a);
        free(b);
    }
    return took;
}

/* ---- PNGs made here ----------------------------------------------------- */

typedef struct gen {
    int ctype, depth;
    bool trns;
} gen;

static unsigned channels(int ctype)
{
    return ctype == PNG_COLOR_TYPE_GA ? 2 : ctype == PNG_COLOR_TYPE_RGB ? 3
         : ctype == PNG_COLOR_TYPE_RGBA ? 4 : 1;
}

/* Smooth ramps with noise: each filter wins somewhere. */
static unsigned value(const gen *g, uint32_t x, uint32_t y, unsigned c, uint32_t *seed)
{
    unsigned max = g->depth == 16 ? 0xffff : (1u << g->depth) - 1;
    *seed = *seed * 1103515245u + 12345u;
    unsigned noise = (*seed >> 16) % 7;
    unsigned v = (x * 5 + y * 3 + c * 40 + noise) * (max > 255 ? 257u : 1u);
    if (g->ctype == PNG_COLOR_TYPE_PALETTE)
        return (x / 3 + y / 2 + noise) % (1u << g->depth);
    return (x % 9 == 0 && y % 5 == 0) ? 0 : v % (max + 1); /* the tRNS value appears */
}

static craft_png_out make(const gen *g, uint32_t w, uint32_t h, int filters, int level)
{
    craft_png_out m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.data);
        free(rows);
        return (craft_png_out){0};
    }
    craft_png_to_memory(png, &m);
    png_set_IHDR(png, info, w, h, g->depth, g->ctype, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(png, 0, filters);
    png_set_compression_level(png, level);
    int entries = 1 << (g->depth > 8 ? 8 : g->depth);
    if (g->ctype == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < entries; i++)
            pal[i] = (png_color){(png_byte)(i * 3), (png_byte)(255 - i), (png_byte)(i * 7)};
        png_set_PLTE(png, info, pal, entries);
    }
    if (g->trns) {
        if (g->ctype == PNG_COLOR_TYPE_PALETTE) {
            png_byte alpha[256];
            for (int i = 0; i < entries; i++)
                alpha[i] = (png_byte)(255 - i * 17);
            png_set_tRNS(png, info, alpha, entries / 2 ? entries / 2 : 1, NULL);
        } else {
            png_color_16 v = {0}; /* value 0 in every channel: see value() */
            png_set_tRNS(png, info, NULL, 0, &v);
        }
    }
    png_write_info(png, info);
    unsigned ch = channels(g->ctype);
    size_t rowbytes = ((size_t)w * ch * (unsigned)g->depth + 7) / 8;
    rows = calloc(h, rowbytes);
    uint32_t seed = w * 31 + h + (uint32_t)g->ctype * 7 + (uint32_t)g->depth;
    for (uint32_t y = 0; rows && y < h; y++) {
        uint8_t *row = rows + y * rowbytes;
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < ch; c++) {
                unsigned v = value(g, x, y, c, &seed);
                size_t bit = ((size_t)x * ch + c) * (unsigned)g->depth;
                if (g->depth == 16) {
                    row[bit / 8] = (uint8_t)(v >> 8);
                    row[bit / 8 + 1] = (uint8_t)v;
                } else {
                    row[bit / 8] |= (uint8_t)(v << (8 - g->depth - bit % 8));
                }
            }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return m;
}

static void generated(void)
{
    static const gen gens[] = {
        {PNG_COLOR_TYPE_GRAY, 1, false},    {PNG_COLOR_TYPE_GRAY, 2, false},
        {PNG_COLOR_TYPE_GRAY, 4, false},    {PNG_COLOR_TYPE_GRAY, 8, false},
        {PNG_COLOR_TYPE_GRAY, 16, false},   {PNG_COLOR_TYPE_GRAY, 1, true},
        {PNG_COLOR_TYPE_GRAY, 2, true},     {PNG_COLOR_TYPE_GRAY, 4, true},
        {PNG_COLOR_TYPE_GRAY, 8, true},     {PNG_COLOR_TYPE_GRAY, 16, true},
        {PNG_COLOR_TYPE_PALETTE, 1, false}, {PNG_COLOR_TYPE_PALETTE, 2, false},
        {PNG_COLOR_TYPE_PALETTE, 4, false}, {PNG_COLOR_TYPE_PALETTE, 8, false},
        {PNG_COLOR_TYPE_PALETTE, 1, true},  {PNG_COLOR_TYPE_PALETTE, 2, true},
        {PNG_COLOR_TYPE_PALETTE, 4, true},  {PNG_COLOR_TYPE_PALETTE, 8, true},
        {PNG_COLOR_TYPE_RGB, 8, false},     {PNG_COLOR_TYPE_RGB, 16, false},
        {PNG_COLOR_TYPE_RGB, 8, true},      {PNG_COLOR_TYPE_RGB, 16, true},
        {PNG_COLOR_TYPE_GA, 8, false},      {PNG_COLOR_TYPE_GA, 16, false},
        {PNG_COLOR_TYPE_RGBA, 8, false},    {PNG_COLOR_TYPE_RGBA, 16, false},
    };
    static const int filters[] = {PNG_FILTER_NONE, PNG_FILTER_SUB, PNG_FILTER_UP,
                                  PNG_FILTER_AVG, PNG_FILTER_PAETH, PNG_ALL_FILTERS};
    static const uint32_t sizes[][2] = {{1, 1}, {13, 7}, {67, 41}, {300, 120}};
    unsigned made = 0;
    for (size_t g = 0; g < sizeof gens / sizeof gens[0]; g++)
        for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                craft_png_out m = make(&gens[g], sizes[s][0], sizes[s][1], filters[f],
                                       (int)(f + s) % 10);
                char name[96];
                snprintf(name, sizeof name, "made type %d depth %d%s filters %#x %ux%u",
                         gens[g].ctype, gens[g].depth, gens[g].trns ? " tRNS" : "", filters[f],
                         sizes[s][0], sizes[s][1]);
                CHECK(m.data != NULL, "%s: libpng wrote it", name);
                if (!m.data)
                    continue;
                bool ok;
                unsigned took = compare(name, m.data, m.size, &ok);
                bool color = gens[g].ctype & PNG_COLOR_MASK_COLOR;
                /* Every format but colour to grey, INDEX8 of a palette. */
                unsigned want = color ? 4 : 8;
                if (gens[g].ctype == PNG_COLOR_TYPE_PALETTE)
                    want++;
                CHECK(ok && took == want, "%s: the libdeflate path took %u formats of %u", name,
                      took, want);
                made++;
                free(m.data);
            }
    printf("# %u PNGs made with libpng\n", made);
}

/* Our own encoder (raiiaf_encode_png) in every format at levels 0, 1, 6
 * and 9: what we write, both paths read alike. */
static void encoded(void)
{
    const uint32_t w = 97, h = 33;
    for (size_t i = 0; i < NFORMATS; i++) {
        int f = formats[i];
        size_t ps = raiiaf_format_pixel_size(f);
        uint8_t *px = malloc((size_t)w * h * ps);
        uint32_t seed = 7;
        for (size_t k = 0; k < (size_t)w * h * ps; k++) {
            seed = seed * 1103515245u + 12345u;
            px[k] = (uint8_t)((k / ps) % w + (k / ps / w) * 3 + (seed >> 28));
        }
        uint8_t palette[16 * 3], alpha[8];
        for (int k = 0; k < 16 * 3; k++)
            palette[k] = (uint8_t)(k * 11);
        for (int k = 0; k < 8; k++)
            alpha[k] = (uint8_t)(k * 30);
        if (f == RAIIAF_FMT_INDEX8)
            for (size_t k = 0; k < (size_t)w * h; k++)
                px[k] &= 15;
        raiiaf_pixels p = {.width = w, .height = h, .format = f, .data = px,
                           .palette = palette, .palette_count = 16, .palette_alpha = alpha,
                           .palette_alpha_count = 8};
        for (int level = 0; level <= 9; level += 3) {
            void *png = NULL;
            size_t size = 0;
            char name[64];
            snprintf(name, sizeof name, "encoded format %d level %d", f, level);
            CHECK(raiiaf_encode_png(&p, level, NULL, &png, &size, NULL, 0) == RAIIAF_OK,
                  "%s: encodes", name);
            bool ok;
            unsigned took = png ? compare(name, png, size, &ok) : 0;
            CHECK(took > 0 && ok, "%s: the libdeflate path took it (%u formats)", name, took);
            /* The pixels come back as given. */
            uint8_t *back = malloc((size_t)w * h * ps);
            rf_msg msg = {{0}};
            rf_png_in in = {.data = png, .size = size};
            CHECK(back && rf_png_decode(&in, &rf_default_limits, f, back, (size_t)w * h * ps,
                                        &msg) == RAIIAF_OK &&
                      !memcmp(back, px, (size_t)w * h * ps),
                  "%s: the pixels come back", name);
            free(back);
            free(png);
        }
        free(px);
    }
}

static void pngsuite(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL, "PngSuite folder %s", dir);
    if (!d)
        return;
    struct dirent *e;
    unsigned files = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".png"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tl_bytes b = tl_read_file(path);
        bool ok;
        unsigned took = compare(e->d_name, b.data, b.size, &ok);
        /* Interlaced names have 'i' as the fourth letter; corrupt ones
         * begin with x. */
        bool interlaced = n > 4 && e->d_name[3] == 'i';
        if (ok && !interlaced && e->d_name[0] != 'x')
            CHECK(took > 0, "%s: the libdeflate path takes it", e->d_name);
        files++;
        free(b.data);
    }
    closedir(d);
    printf("# %u PngSuite files\n", files);
}

static void fixtures(const char *dir, int count, char **names)
{
    for (int i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.raiiaf", dir, names[i]);
        raiiaf_ctx *ctx = raiiaf_ctx_new();
        const void *png;
        size_t size;
        CHECK(raiiaf_open_file(ctx, path) == RAIIAF_OK &&
                  raiiaf_get_image_data(ctx, &png, &size) == RAIIAF_OK,
              "%s: opens", names[i]);
        bool ok;
        unsigned took = compare(names[i], png, size, &ok);
        CHECK(ok && took > 0, "%s: the libdeflate path takes it", names[i]);
        raiiaf_ctx_free(ctx);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PNGSUITE_DIR FIXTURES_DIR FIXTURE...\n", argv[0]);
        return 2;
    }
    generated();
    encoded();
    pngsuite(argv[1]);
    fixtures(argv[2], argc - 3, argv + 3);
    printf("# decodes compared: %u through libdeflate, %u left to libpng\n", covered, declined);
    return tl_finish();
}
