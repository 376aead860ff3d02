/* The embedded PNG in every colour type and bit depth libpng writes
 * (grey 1/2/4/8/16, palette 1/2/4/8, RGB, grey+alpha, RGBA, tRNS, Adam7
 * interlacing) decodes to the samples it holds, in its natural format and
 * converted to the others. The PNGs are made here with libpng itself; the
 * expected samples are computed independently of any decoder. */
#include "raiiaf.h"
#include "craft.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

#define W 13 /* odd sizes exercise partial bytes and Adam7 passes */
#define H 7

typedef struct spec {
    const char *name;
    int color_type, depth, interlace;
    bool trns;
} spec;

/* The raw sample value of channel c at (x, y): fills the depth's range. */
static unsigned sample(int depth, int x, int y, int c)
{
    unsigned max = (1u << depth) - 1;
    return (unsigned)(x * 7 + y * 13 + c * 29) % (max + 1);
}

static int channels_of(int color_type)
{
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGBA: return 4;
    default: return 1; /* palette index */
    }
}

static png_color palette_entry(unsigned i)
{
    png_color c = {(png_byte)(i * 3), (png_byte)(255 - i), (png_byte)(i * 7)};
    return c;
}

/* tRNS: grey/RGB value made transparent, palette entries' alpha. */
static unsigned trns_grey(int depth)
{
    return sample(depth, 1, 0, 0);
}

static craft_png_out make_png(const spec *s)
{
    craft_png_out m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.data);
        m.data = NULL;
        m.size = 0;
        return m;
    }
    craft_png_to_memory(png, &m);
    png_set_IHDR(png, info, W, H, s->depth, s->color_type, s->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    int entries = 1 << s->depth;
    if (s->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < entries; i++)
            pal[i] = palette_entry((unsigned)i);
        png_set_PLTE(png, info, pal, entries);
    }
    if (s->trns) {
        if (s->color_type == PNG_COLOR_TYPE_PALETTE) {
            png_byte alpha[256];
            for (int i = 0; i < entries; i++)
                alpha[i] = (png_byte)(255 - i * 17);
            png_set_tRNS(png, info, alpha, entries, NULL);
        } else {
            png_color_16 v = {0};
            v.gray = (png_uint_16)trns_grey(s->depth);
            v.red = (png_uint_16)sample(s->depth, 1, 0, 0);
            v.green = (png_uint_16)sample(s->depth, 1, 0, 1);
            v.blue = (png_uint_16)sample(s->depth, 1, 0, 2);
            png_set_tRNS(png, info, NULL, 0, &v);
        }
    }
    png_write_info(png, info);
    int ch = channels_of(s->color_type);
    size_t rowbytes = ((size_t)W * ch * s->depth + 7) / 8;
    uint8_t *rows = calloc(H, rowbytes);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = sample(s->depth, x, y, c);
                size_t bit = ((size_t)x * ch + c) * s->depth;
                uint8_t *row = rows + y * rowbytes;
                if (s->depth == 16) {
                    row[bit / 8] = (uint8_t)(v >> 8);
                    row[bit / 8 + 1] = (uint8_t)v;
                } else {
                    row[bit / 8] |= (uint8_t)(v << (8 - s->depth - bit % 8));
                }
            }
    png_bytep ptrs[H];
    for (int y = 0; y < H; y++)
        ptrs[y] = rows + y * rowbytes;
    png_write_image(png, ptrs);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return m;
}

/* The expected RGBA16 value of pixel (x, y), channel c (0..3). */
static unsigned expect_rgba16(const spec *s, int x, int y, int c)
{
    unsigned max = (1u << s->depth) - 1;
    if (s->color_type == PNG_COLOR_TYPE_PALETTE) {
        unsigned i = sample(s->depth, x, y, 0);
        png_color p = palette_entry(i);
        unsigned v8 = c == 0 ? p.red : c == 1 ? p.green : c == 2 ? p.blue
                    : s->trns ? (255 - i * 17) & 0xff : 255;
        return v8 * 257;
    }
    int ch = channels_of(s->color_type);
    bool color = s->color_type & PNG_COLOR_MASK_COLOR;
    bool alpha = s->color_type & PNG_COLOR_MASK_ALPHA;
    if (c == 3) {
        if (alpha)
            return sample(s->depth, x, y, ch - 1) * 65535u / max;
        if (s->trns) {
            bool hit = color ? sample(s->depth, x, y, 0) == sample(s->depth, 1, 0, 0) &&
                                   sample(s->depth, x, y, 1) == sample(s->depth, 1, 0, 1) &&
                                   sample(s->depth, x, y, 2) == sample(s->depth, 1, 0, 2)
                             : sample(s->depth, x, y, 0) == trns_grey(s->depth);
            return hit ? 0 : 65535;
        }
        return 65535;
    }
    unsigned v = sample(s->depth, x, y, color ? c : 0);
    /* exact scaling to 16 bits, as PNG's sBIT-less expansion does */
    return s->depth == 16 ? v : (unsigned)((uint64_t)v * 65535u / max);
}

static void check_spec(const spec *s)
{
    craft_png_out png = make_png(s);
    CHECK(png.size > 0, "%s: libpng wrote it", s->name);
    raiiaf_writer *w = raiiaf_writer_new();
    CHECK(raiiaf_writer_set_image_png(w, png.data, png.size) == RAIIAF_OK, "%s: taken", s->name);
    void *file;
    size_t file_size;
    CHECK(raiiaf_writer_write_memory(w, &file, &file_size) == RAIIAF_OK, "%s: written: %s", s->name,
          raiiaf_writer_message(w));
    raiiaf_writer_free(w);
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_memory(ctx, file, file_size) == RAIIAF_OK, "%s: opens", s->name);
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_OK, "%s: info: %s", s->name, raiiaf_ctx_message(ctx));
    bool alpha = (s->color_type & PNG_COLOR_MASK_ALPHA) || s->trns;
    bool color = s->color_type & PNG_COLOR_MASK_COLOR;
    int want = s->depth == 16 ? (color ? (alpha ? RAIIAF_FMT_RGBA16 : RAIIAF_FMT_RGB16)
                                       : (alpha ? RAIIAF_FMT_GA16 : RAIIAF_FMT_G16))
                              : (color ? (alpha ? RAIIAF_FMT_RGBA8 : RAIIAF_FMT_RGB8)
                                       : (alpha ? RAIIAF_FMT_GA8 : RAIIAF_FMT_G8));
    CHECK(info.width == W && info.height == H && info.format == want &&
              info.png_bit_depth == s->depth && info.png_color_type == s->color_type &&
              info.interlaced == (s->interlace != PNG_INTERLACE_NONE),
          "%s: info (format %d, want %d)", s->name, info.format, want);

    /* RGBA16 holds every sample exactly. */
    uint16_t rgba[W * H * 4];
    CHECK(raiiaf_decode_image(ctx, RAIIAF_FMT_RGBA16, rgba, sizeof rgba) == RAIIAF_OK, "%s: decode: %s",
          s->name, raiiaf_ctx_message(ctx));
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 4; c++) {
                unsigned got = rgba[(y * W + x) * 4 + c], exp = expect_rgba16(s, x, y, c);
                if (got != exp && bad++ < 3)
                    fprintf(stderr, "%s: (%d,%d) channel %d: %u, expected %u\n", s->name, x, y, c, got,
                            exp);
            }
    CHECK(bad == 0, "%s: RGBA16 samples (%d wrong)", s->name, bad);

    /* The natural format agrees with RGBA16 sample by sample. */
    size_t need;
    raiiaf_decoded_image_size(ctx, info.format, &need);
    uint8_t *nat = malloc(need);
    CHECK(raiiaf_decode_image(ctx, info.format, nat, need) == RAIIAF_OK, "%s: natural decode", s->name);
    int nch = (int)(raiiaf_format_pixel_size(info.format) / (s->depth == 16 ? 2 : 1));
    bad = 0;
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < nch; c++) {
            int rc = nch <= 2 ? (c == 0 ? 0 : 3) : c; /* G,A -> R,A */
            unsigned v16 = rgba[i * 4 + rc];
            unsigned got = s->depth == 16 ? ((uint16_t *)nat)[i * nch + c] : nat[i * nch + c];
            unsigned exp = s->depth == 16 ? v16 : (v16 + 128) / 257;
            bad += got != exp;
        }
    CHECK(bad == 0, "%s: natural format samples (%d wrong)", s->name, bad);
    free(nat);

    /* Row by row gives the same rows; interlaced images refuse. */
    size_t row_size = W * raiiaf_format_pixel_size(RAIIAF_FMT_RGBA16);
    int begun = raiiaf_decode_rows_begin(ctx, RAIIAF_FMT_RGBA16);
    if (s->interlace != PNG_INTERLACE_NONE) {
        CHECK(begun == RAIIAF_EUNSUPPORTED, "%s: interlaced, no rows", s->name);
    } else {
        CHECK(begun == RAIIAF_OK, "%s: rows begin: %s", s->name, raiiaf_ctx_message(ctx));
        uint16_t row[W * 4];
        bool same = true;
        for (int y = 0; y < H; y++)
            same &= raiiaf_decode_row(ctx, row, row_size) == RAIIAF_OK &&
                    !memcmp(row, rgba + y * W * 4, row_size);
        CHECK(same, "%s: row by row equals the whole image", s->name);
        CHECK(raiiaf_decode_row(ctx, row, row_size) == RAIIAF_ERANGE, "%s: no row past the end",
              s->name);
        CHECK(raiiaf_decode_rows_begin(ctx, RAIIAF_FMT_G8) == RAIIAF_OK &&
                  raiiaf_decode_row(ctx, row, 1) == RAIIAF_ERANGE &&
                  raiiaf_decode_row(ctx, row, W) == RAIIAF_OK,
              "%s: begin again, row size checked", s->name);
    }

    /* Every other format decodes too (conversions are libpng's). */
    for (int f = RAIIAF_FMT_G8; f <= RAIIAF_FMT_RGBA16; f++) {
        raiiaf_decoded_image_size(ctx, f, &need);
        void *buf = malloc(need);
        CHECK(raiiaf_decode_image(ctx, f, buf, need) == RAIIAF_OK, "%s: decode as format %d: %s",
              s->name, f, raiiaf_ctx_message(ctx));
        free(buf);
    }
    raiiaf_ctx_free(ctx);
    raiiaf_free(file);
    free(png.data);
}

int main(void)
{
    static const spec specs[] = {
        {"grey1", PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, false},
        {"grey2", PNG_COLOR_TYPE_GRAY, 2, PNG_INTERLACE_NONE, false},
        {"grey4-trns", PNG_COLOR_TYPE_GRAY, 4, PNG_INTERLACE_NONE, true},
        {"grey8", PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_ADAM7, false},
        {"grey16-trns", PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, true},
        {"palette1", PNG_COLOR_TYPE_PALETTE, 1, PNG_INTERLACE_NONE, false},
        {"palette2-trns", PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_ADAM7, true},
        {"palette4", PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_NONE, false},
        {"palette8-trns", PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, true},
        {"rgb8-trns", PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, true},
        {"rgb16", PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_ADAM7, false},
        {"grey-alpha8", PNG_COLOR_TYPE_GA, 8, PNG_INTERLACE_NONE, false},
        {"grey-alpha16", PNG_COLOR_TYPE_GA, 16, PNG_INTERLACE_ADAM7, false},
        {"rgba8", PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_ADAM7, false},
        {"rgba16", PNG_COLOR_TYPE_RGBA, 16, PNG_INTERLACE_NONE, false},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        check_spec(&specs[i]);
    return tl_finish();
}
