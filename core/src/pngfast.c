/* The PNG's pixels through libdeflate: see pngfast.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pngfast.h"

#include <libdeflate.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>

/* PNG colour types (ISO 15948) and filter types. */
enum { CT_GRAY = 0, CT_RGB = 2, CT_PALETTE = 3, CT_GA = 4, CT_RGBA = 6 };
enum { F_NONE, F_SUB, F_UP, F_AVG, F_PAETH };
#define CHUNK_MAX 0x7FFFFFFFu

struct rf_fast {
    uint8_t *filtered;        /* height rows of 1 + rowbytes */
    size_t rowbytes;
    unsigned bpp;
    uint32_t width, height, next;
    int depth, ctype, format, channels;
    bool trns;
    uint16_t trans_gray, trans_rgb[3];
    int trans_count;
    uint8_t pal[256][4];      /* RGBA; zero beyond the palette, as libpng pads it */
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t rf_crc32(uint32_t crc, const void *data, size_t size)
{
    return libdeflate_crc32(crc, data, size);
}

int rf_png_chunk(rf_buf *b, const char *type, const void *data, size_t size, rf_msg *msg)
{
    if (size > CHUNK_MAX)
        return rf_fail(msg, RAIIAF_ELIMIT, "a %s chunk cannot hold %zu bytes", type, size);
    uint8_t head[8], tail[4];
    uint32_t v = (uint32_t)size;
    head[0] = (uint8_t)(v >> 24), head[1] = (uint8_t)(v >> 16), head[2] = (uint8_t)(v >> 8);
    head[3] = (uint8_t)v;
    memcpy(head + 4, type, 4);
    uint32_t crc = rf_crc32(0, head + 4, 4);
    if (size) /* libdeflate_crc32 of NULL is the initial value */
        crc = rf_crc32(crc, data, size);
    tail[0] = (uint8_t)(crc >> 24), tail[1] = (uint8_t)(crc >> 16), tail[2] = (uint8_t)(crc >> 8);
    tail[3] = (uint8_t)crc;
    if (rf_buf_append(b, head, 8) || (size && rf_buf_append(b, data, size)) ||
        rf_buf_append(b, tail, 4))
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    return RAIIAF_OK;
}

static int channels_of(int ctype)
{
    switch (ctype) {
    case CT_GRAY: case CT_PALETTE: return 1;
    case CT_GA: return 2;
    case CT_RGB: return 3;
    case CT_RGBA: return 4;
    default: return 0;
    }
}

/* The chunk at pos: its length and type, whole within size, CRC matching,
 * type four letters. */
static bool good_chunk(const uint8_t *png, size_t size, size_t pos, uint32_t *len)
{
    if (pos > size || size - pos < 12)
        return false;
    uint32_t n = be32(png + pos);
    if (n > CHUNK_MAX || n > size - pos - 12)
        return false;
    for (int i = 4; i < 8; i++) {
        uint8_t c = png[pos + i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    if (rf_crc32(0, png + pos + 4, (size_t)n + 4) != be32(png + pos + 8 + n))
        return false;
    *len = n;
    return true;
}

static bool is_type(const uint8_t *png, size_t pos, const char *type)
{
    return memcmp(png + pos + 4, type, 4) == 0;
}

/* The IDAT run from idat - 8 and the chunks after it, up to IEND, as
 * libpng accepts them without a word: its position and total size. */
static bool walk_chunks(const uint8_t *png, size_t size, size_t idat, size_t *first,
                        size_t *count, uint64_t *total)
{
    if (idat < 8)
        return false;
    size_t pos = idat - 8;
    uint32_t len;
    *first = pos;
    *count = 0;
    *total = 0;
    while (good_chunk(png, size, pos, &len) && is_type(png, pos, "IDAT")) {
        *total += len;
        (*count)++;
        pos += 12 + (size_t)len;
    }
    if (!*count)
        return false;
    for (;;) {
        if (!good_chunk(png, size, pos, &len))
            return false;
        if (is_type(png, pos, "IEND"))
            return len == 0;
        /* A critical chunk after the image (IDAT, PLTE, an unknown one) is
         * libpng's to judge; ancillary ones it reads and sets aside. */
        if (!(png[pos + 4] & 0x20))
            return false;
        pos += 12 + (size_t)len;
    }
}

void rf_fast_free(rf_fast *f)
{
    if (!f)
        return;
    free(f->filtered);
    free(f);
}

int rf_fast_open(rf_fast **out, const uint8_t *png, size_t size, size_t idat,
                 const rf_fast_header *h, int format, uint64_t max_rows, rf_msg *msg)
{
    *out = NULL;
    int ch = channels_of(h->color_type);
    int d = h->depth;
    if (!ch || !(d == 1 || d == 2 || d == 4 || d == 8 || d == 16) || !h->width || !h->height)
        return RAIIAF_EUNSUPPORTED;
    bool color = h->color_type == CT_RGB || h->color_type == CT_RGBA ||
                 h->color_type == CT_PALETTE;
    if (format == RAIIAF_FMT_INDEX8 ? h->color_type != CT_PALETTE
                                    : color && !rf_format_is_color(format))
        return RAIIAF_EUNSUPPORTED; /* libpng's colour-to-grey weights */
    uint64_t bits = (uint64_t)h->width * (unsigned)ch * (unsigned)d;
    uint64_t rowbytes = (bits + 7) / 8;
    uint64_t filtered = (rowbytes + 1) * h->height;
    if (filtered > SIZE_MAX / 2 || rowbytes * h->height > max_rows)
        return RAIIAF_EUNSUPPORTED;

    size_t first, count;
    uint64_t total;
    if (!walk_chunks(png, size, idat, &first, &count, &total) || total < 2 || total > SIZE_MAX)
        return RAIIAF_EUNSUPPORTED;
    const uint8_t *z = png + first + 8;
    /* zlib refuses a distance beyond the window the stream's header names
     * once it reaches into an earlier call's output, which libpng's
     * row-by-row inflate makes of any distance crossing a row; libdeflate
     * always allows 32 KiB. A header naming less is libpng's, unless the
     * whole image fits in that window. */
    unsigned window = 1u << ((z[0] >> 4) + 8);
    if ((z[0] >> 4) > 7 || (window < 32768 && filtered > window))
        return RAIIAF_EUNSUPPORTED;

    rf_fast *f = calloc(1, sizeof *f);
    uint8_t *joined = NULL;
    if (f)
        f->filtered = rf_malloc_large((size_t)filtered);
    if (f && f->filtered && count > 1) {
        joined = rf_malloc_large((size_t)total);
        if (joined) {
            size_t pos = first, o = 0;
            for (size_t i = 0; i < count; i++) {
                uint32_t len = be32(png + pos);
                memcpy(joined + o, png + pos + 8, len);
                o += len;
                pos += 12 + (size_t)len;
            }
            z = joined;
        }
    }
    struct libdeflate_decompressor *dec =
        f && f->filtered && (count == 1 || joined) ? libdeflate_alloc_decompressor() : NULL;
    if (!dec) {
        free(joined);
        rf_fast_free(f);
        return rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
    }
    enum libdeflate_result res =
        libdeflate_zlib_decompress(dec, z, (size_t)total, f->filtered, (size_t)filtered, NULL);
    libdeflate_free_decompressor(dec);
    free(joined);
    /* Short, long or bad data: libpng says which, or takes what it can. */
    bool ok = res == LIBDEFLATE_SUCCESS;
    for (uint32_t y = 0; ok && y < h->height; y++)
        ok = f->filtered[(size_t)y * (rowbytes + 1)] <= F_PAETH;
    if (!ok) {
        rf_fast_free(f);
        return RAIIAF_EUNSUPPORTED;
    }
    f->rowbytes = (size_t)rowbytes;
    f->bpp = (unsigned)(ch * d / 8) ? (unsigned)(ch * d / 8) : 1;
    f->width = h->width;
    f->height = h->height;
    f->depth = d;
    f->ctype = h->color_type;
    f->channels = ch;
    f->format = format;
    f->trns = h->has_trns;
    unsigned mask = d == 16 ? 0xffffu : (1u << d) - 1;
    f->trans_gray = (uint16_t)(h->trans_gray & mask);
    for (int c = 0; c < 3; c++)
        f->trans_rgb[c] = (uint16_t)(h->trans_rgb[c] & mask);
    for (int i = 0; i < h->palette_count && i < 256; i++) {
        memcpy(f->pal[i], h->palette + 3 * i, 3);
        f->pal[i][3] = 0xff;
    }
    for (int i = h->palette_count; i < 256; i++)
        f->pal[i][3] = 0xff;
    f->trans_count = h->has_trns ? h->trans_count : 0;
    for (int i = 0; i < f->trans_count && i < 256; i++)
        f->pal[i][3] = h->trans_alpha[i];
    *out = f;
    return RAIIAF_OK;
}

/* ---- unfiltering -------------------------------------------------------- */

/* Without branches: on a photograph the choice is random, and a
 * mispredicted branch per byte costs more than working out all three. */
static inline uint8_t paeth(uint8_t a, uint8_t b, uint8_t c)
{
    int p = (int)a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    int ab = pb < pa ? b : a; /* ties go to a, then b, as the standard says */
    int pab = pb < pa ? pb : pa;
    return (uint8_t)(pc < pab ? c : ab);
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* 3- and 4-byte pixels, a pixel at a time in 16-bit lanes: the work of
 * each byte of a pixel at once (a pixel depends on the one before it). */
/* Four bytes where they may be read (the fourth of a 3-byte pixel is the
 * next pixel's, its lane unused): a load of 3 would stall on the stack. */
static inline __m128i load_px(const uint8_t *p, unsigned bpp, bool room)
{
    uint32_t v = 0;
    if (bpp == 4 || room)
        memcpy(&v, p, 4);
    else
        memcpy(&v, p, 3);
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)v), _mm_setzero_si128());
}

static inline void store_px(uint8_t *p, __m128i x, unsigned bpp)
{
    uint32_t v = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(x, x));
    memcpy(p, &v, bpp);
}

static inline __m128i abs16(__m128i x)
{
    return _mm_max_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), x));
}

static inline __m128i blend(__m128i mask, __m128i yes, __m128i no)
{
    return _mm_or_si128(_mm_and_si128(mask, yes), _mm_andnot_si128(mask, no));
}

/* One row of bpp-byte pixels (bpp a constant where inlined). */
static inline __attribute__((always_inline)) void
unfilter_px_n(int type, uint8_t *dst, const uint8_t *src, const uint8_t *prev, size_t n,
              unsigned bpp)
{
    const __m128i mask8 = _mm_set1_epi16(0xff);
    __m128i a = _mm_setzero_si128(), c = _mm_setzero_si128();
    for (size_t i = 0; i < n; i += bpp) {
        bool room = i + 4 <= n;
        __m128i x = load_px(src + i, bpp, room);
        __m128i b = prev ? load_px(prev + i, bpp, room) : _mm_setzero_si128();
        __m128i pred;
        if (type == 1) {
            pred = a;
        } else if (type == 3) {
            pred = _mm_srli_epi16(_mm_add_epi16(a, b), 1);
        } else {
            __m128i pa = _mm_sub_epi16(b, c), pb = _mm_sub_epi16(a, c);
            __m128i pc = abs16(_mm_add_epi16(pa, pb));
            pa = abs16(pa);
            pb = abs16(pb);
            __m128i take_c = _mm_cmpgt_epi16(_mm_min_epi16(pa, pb), pc);
            __m128i take_b = _mm_cmpgt_epi16(pa, pb);
            pred = blend(take_c, c, blend(take_b, b, a));
        }
        a = _mm_and_si128(_mm_add_epi16(x, pred), mask8);
        store_px(dst + i, a, bpp);
        c = b;
    }
}

/* Returns false where the row is not one of these. */
static bool unfilter_px(int type, uint8_t *dst, const uint8_t *src, const uint8_t *prev,
                        size_t n, unsigned bpp)
{
    if ((bpp != 3 && bpp != 4) || n % bpp || type == 0 || type == 2)
        return false;
    if (bpp == 3)
        unfilter_px_n(type, dst, src, prev, n, 3);
    else
        unfilter_px_n(type, dst, src, prev, n, 4);
    return true;
}
#else
static bool unfilter_px(int type, uint8_t *dst, const uint8_t *src, const uint8_t *prev,
                        size_t n, unsigned bpp)
{
    (void)type, (void)dst, (void)src, (void)prev, (void)n, (void)bpp;
    return false;
}
#endif

/* Row src (n bytes) unfiltered into dst (which may be src); prev is the
 * row above, unfiltered, or NULL for the first. */
static void unfilter(int type, uint8_t *dst, const uint8_t *src, const uint8_t *prev, size_t n,
                     unsigned bpp)
{
    size_t i;
    if (unfilter_px(type, dst, src, prev, n, bpp))
        return;
    if (!prev && type == F_UP)
        type = F_NONE;
    if (!prev && type == F_PAETH) /* b = c = 0: the left byte */
        type = F_SUB;
    switch (type) {
    case F_NONE:
        if (dst != src)
            memcpy(dst, src, n);
        break;
    case F_SUB:
        for (i = 0; i < bpp && i < n; i++)
            dst[i] = src[i];
        for (; i < n; i++)
            dst[i] = (uint8_t)(src[i] + dst[i - bpp]);
        break;
    case F_UP:
        for (i = 0; i < n; i++)
            dst[i] = (uint8_t)(src[i] + prev[i]);
        break;
    case F_AVG:
        for (i = 0; i < bpp && i < n; i++)
            dst[i] = (uint8_t)(src[i] + ((prev ? prev[i] : 0) >> 1));
        for (; i < n; i++)
            dst[i] = (uint8_t)(src[i] + ((dst[i - bpp] + (prev ? prev[i] : 0)) >> 1));
        break;
    default:
        for (i = 0; i < bpp && i < n; i++)
            dst[i] = (uint8_t)(src[i] + prev[i]);
        for (; i < n; i++)
            dst[i] = (uint8_t)(src[i] + paeth(dst[i - bpp], prev[i], prev[i - bpp]));
        break;
    }
}

/* ---- conversion to the output format ------------------------------------- */

static inline unsigned sub_sample(const uint8_t *row, uint32_t x, int d)
{
    size_t bit = (size_t)x * (unsigned)d;
    return (row[bit >> 3] >> (8 - d - (bit & 7))) & ((1u << d) - 1);
}

static inline unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* libpng's png_do_scale_16_to_8, on the value's two bytes. */
static inline unsigned scale16(unsigned v)
{
    int tmp = (int)(v >> 8);
    tmp += (((int)(v & 0xff) - tmp + 128) * 65535) >> 24;
    return (unsigned)tmp & 0xff;
}

static inline void put16(uint8_t *p, unsigned v)
{
    uint16_t s = (uint16_t)v; /* host order, as image.c asks of libpng */
    memcpy(p, &s, 2);
}

/* Every pixel through its natural samples: the general case. */
static void convert_any(const rf_fast *f, const uint8_t *raw, uint8_t *out)
{
    int d = f->depth;
    bool src16 = d == 16;
    unsigned smax = src16 ? 0xffff : 0xff;
    bool want16 = rf_format_is_16(f->format), want_alpha = rf_format_has_alpha(f->format);
    bool want_color = rf_format_is_color(f->format);
    unsigned gray_scale = d == 1 ? 0xff : d == 2 ? 0x55 : d == 4 ? 0x11 : 1;
    for (uint32_t x = 0; x < f->width; x++) {
        unsigned c[4] = {0}, n = 0, a = smax;
        bool alpha = false;
        switch (f->ctype) {
        case CT_GRAY: {
            unsigned s = d == 16 ? get16(raw + 2 * (size_t)x)
                         : d == 8 ? raw[x] : sub_sample(raw, x, d);
            c[n++] = s * gray_scale;
            if (f->trns) {
                alpha = true;
                a = s == f->trans_gray ? 0 : smax;
            }
            break;
        }
        case CT_PALETTE: {
            unsigned i = d == 8 ? raw[x] : sub_sample(raw, x, d);
            c[n++] = f->pal[i][0];
            c[n++] = f->pal[i][1];
            c[n++] = f->pal[i][2];
            if (f->trns) {
                alpha = true;
                a = (int)i < f->trans_count ? f->pal[i][3] : 0xff;
            }
            break;
        }
        default: {
            int ch = f->channels;
            bool has_a = f->ctype == CT_GA || f->ctype == CT_RGBA;
            const uint8_t *p = raw + (size_t)x * (unsigned)ch * (src16 ? 2 : 1);
            for (int k = 0; k < ch; k++)
                c[k] = src16 ? get16(p + 2 * k) : p[k];
            n = (unsigned)(has_a ? ch - 1 : ch);
            if (has_a) {
                alpha = true;
                a = c[n];
            } else if (f->trns) {
                alpha = true;
                bool hit = n == 1 ? c[0] == f->trans_gray
                                  : c[0] == f->trans_rgb[0] && c[1] == f->trans_rgb[1] &&
                                        c[2] == f->trans_rgb[2];
                a = hit ? 0 : smax;
            }
            break;
        }
        }
        unsigned o[4], m = 0;
        if (want_color && n == 1) {
            o[m++] = c[0];
            o[m++] = c[0];
            o[m++] = c[0];
        } else {
            for (unsigned k = 0; k < n; k++)
                o[m++] = c[k];
        }
        if (want_alpha)
            o[m++] = alpha ? a : smax;
        for (unsigned k = 0; k < m; k++) {
            unsigned v = o[k];
            if (want16) {
                put16(out, src16 ? v : v * 257);
                out += 2;
            } else {
                *out++ = (uint8_t)(src16 ? scale16(v) : v);
            }
        }
    }
}

/* The format is the image's own bytes (16-bit ones in PNG order). */
static bool is_natural(const rf_fast *f)
{
    return f->ctype != CT_PALETTE && !f->trns && f->depth >= 8 &&
           rf_format_is_16(f->format) == (f->depth == 16) &&
           rf_format_has_alpha(f->format) == (f->ctype == CT_GA || f->ctype == CT_RGBA) &&
           rf_format_is_color(f->format) == (f->ctype == CT_RGB || f->ctype == CT_RGBA);
}

/* Unfiltered row cur to the format. */
static void convert(const rf_fast *f, const uint8_t *cur, uint8_t *out)
{
    int d = f->depth;
    if (f->format == RAIIAF_FMT_INDEX8) {
        if (d == 8)
            memcpy(out, cur, f->width);
        else
            for (uint32_t x = 0; x < f->width; x++)
                out[x] = (uint8_t)sub_sample(cur, x, d);
    } else if (is_natural(f) && d == 8) {
        if (out != cur)
            memcpy(out, cur, f->rowbytes);
    } else if (is_natural(f)) { /* 16-bit: big-endian to host order */
        for (size_t i = 0; i < f->rowbytes; i += 2) {
            uint16_t v;
            memcpy(&v, cur + i, 2);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
            v = __builtin_bswap16(v);
#endif
            memcpy(out + i, &v, 2);
        }
    } else if (f->ctype == CT_RGB && !f->trns && d == 8 && f->format == RAIIAF_FMT_RGBA8) {
        for (uint32_t x = 0; x < f->width; x++) {
            memcpy(out + 4 * (size_t)x, cur + 3 * (size_t)x, 3);
            out[4 * (size_t)x + 3] = 0xff;
        }
    } else if (f->ctype == CT_PALETTE &&
               (f->format == RAIIAF_FMT_RGB8 || f->format == RAIIAF_FMT_RGBA8)) {
        /* pal[] holds each entry's alpha (0xff without tRNS), as
         * convert_any would work it out. */
        if (f->format == RAIIAF_FMT_RGBA8 && d == 8)
            for (uint32_t x = 0; x < f->width; x++)
                memcpy(out + 4 * (size_t)x, f->pal[cur[x]], 4);
        else if (f->format == RAIIAF_FMT_RGBA8)
            for (uint32_t x = 0; x < f->width; x++)
                memcpy(out + 4 * (size_t)x, f->pal[sub_sample(cur, x, d)], 4);
        else if (d == 8)
            for (uint32_t x = 0; x < f->width; x++)
                memcpy(out + 3 * (size_t)x, f->pal[cur[x]], 3);
        else
            for (uint32_t x = 0; x < f->width; x++)
                memcpy(out + 3 * (size_t)x, f->pal[sub_sample(cur, x, d)], 3);
    } else {
        convert_any(f, cur, out);
    }
}

void rf_fast_row(rf_fast *f, void *row)
{
    size_t stride = f->rowbytes + 1;
    uint8_t *line = f->filtered + (size_t)f->next * stride;
    uint8_t *cur = line + 1;
    const uint8_t *prev = f->next ? line - stride + 1 : NULL;
    unfilter(line[0], cur, cur, prev, f->rowbytes, f->bpp);
    f->next++;
    convert(f, cur, row);
}

void rf_fast_image(rf_fast *f, void *out, size_t stride)
{
    size_t fstride = f->rowbytes + 1;
    bool direct = is_natural(f) && f->depth == 8 && stride == f->rowbytes;
    for (uint32_t y = f->next; y < f->height; y++) {
        uint8_t *line = f->filtered + (size_t)y * fstride;
        uint8_t *row = (uint8_t *)out + (size_t)y * stride;
        if (direct) { /* straight into out, the row above being there */
            unfilter(line[0], row, line + 1, y ? row - stride : NULL, f->rowbytes, f->bpp);
        } else {
            unfilter(line[0], line + 1, line + 1, y ? line + 1 - fstride : NULL, f->rowbytes,
                     f->bpp);
            convert(f, line + 1, row);
        }
    }
    f->next = f->height;
}

/* ---- writing ---------------------------------------------------------- */

/* The filtered row's sum of absolute values (bytes as signed), libpng's
 * measure; stops counting past `best`. */
static uint64_t row_cost(const uint8_t *p, size_t n, uint64_t best)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i += 1024) { /* an inner loop the compiler vectorises */
        size_t end = n - i < 1024 ? n : i + 1024;
        uint32_t part = 0;
        for (size_t j = i; j < end; j++)
            part += (uint32_t)abs((int)(int8_t)p[j]);
        sum += part;
        if (sum >= best)
            return sum;
    }
    return sum;
}

/* Row cur filtered by type into dst; prev is the row above (zeros for
 * the first). Each output byte depends on raw bytes only: loops the
 * compiler vectorises. */
static void filter_row(int type, uint8_t *restrict dst, const uint8_t *restrict cur,
                       const uint8_t *restrict prev, size_t n, unsigned bpp)
{
    size_t i, k = bpp < n ? bpp : n;
    switch (type) {
    case F_SUB:
        memcpy(dst, cur, k);
        for (i = k; i < n; i++)
            dst[i] = (uint8_t)(cur[i] - cur[i - bpp]);
        break;
    case F_UP:
        for (i = 0; i < n; i++)
            dst[i] = (uint8_t)(cur[i] - prev[i]);
        break;
    case F_AVG:
        for (i = 0; i < k; i++)
            dst[i] = (uint8_t)(cur[i] - (prev[i] >> 1));
        for (; i < n; i++)
            dst[i] = (uint8_t)(cur[i] - ((cur[i - bpp] + prev[i]) >> 1));
        break;
    default:
        for (i = 0; i < k; i++)
            dst[i] = (uint8_t)(cur[i] - prev[i]);
        for (; i < n; i++)
            dst[i] = (uint8_t)(cur[i] - paeth(cur[i - bpp], prev[i], prev[i - bpp]));
        break;
    }
}

uint8_t *rf_fast_filter(const uint8_t *const *rows, uint32_t height, size_t rowbytes,
                        unsigned bpp, bool adaptive)
{
    size_t stride = rowbytes + 1;
    if (stride == 0 || height > SIZE_MAX / stride)
        return NULL;
    uint8_t *out = rf_malloc_large(stride * height);
    uint8_t *scratch = adaptive ? calloc(2, rowbytes) : NULL; /* a row, a zero row */
    if (!out || (adaptive && !scratch)) {
        free(out);
        free(scratch);
        return NULL;
    }
    for (uint32_t y = 0; y < height; y++) {
        uint8_t *line = out + (size_t)y * stride;
        const uint8_t *cur = rows[y], *prev = y ? rows[y - 1] : scratch + rowbytes;
        int best_type = F_NONE;
        memcpy(line + 1, cur, rowbytes);
        if (adaptive) {
            uint64_t best = row_cost(cur, rowbytes, UINT64_MAX);
            for (int t = F_SUB; t <= F_PAETH; t++) {
                filter_row(t, scratch, cur, prev, rowbytes, bpp);
                uint64_t cost = row_cost(scratch, rowbytes, best);
                if (cost < best) {
                    best = cost;
                    best_type = t;
                    memcpy(line + 1, scratch, rowbytes);
                }
            }
        }
        line[0] = (uint8_t)best_type;
    }
    free(scratch);
    return out;
}

/* PNG's (zlib's) level 0-9 to libdeflate's 0-12: the same ends (0 stores,
 * 1 fastest); 9 takes libdeflate's near-optimal parsing. */
static int deflate_level(int level)
{
    static const int map[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10};
    return map[level < 0 || level > 9 ? 6 : level];
}

/* zlib with run-length matches only (Z_RLE): on photographs, whose filtered
 * rows are noise to a match finder, smaller than any level of zlib or
 * libdeflate, and several times faster. 0 on failure. */
static size_t deflate_rle(const uint8_t *data, size_t size, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15, 9, Z_RLE) != Z_OK)
        return 0;
    size_t done = 0;
    int zr = Z_OK;
    zs.next_out = out;
    while (zr == Z_OK) {
        size_t in = size - done < (1u << 30) ? size - done : (1u << 30);
        zs.next_in = (Bytef *)(uintptr_t)(data + done);
        zs.avail_in = (uInt)in;
        size_t room = cap - (size_t)(zs.next_out - out);
        zs.avail_out = room < (1u << 30) ? (uInt)room : (1u << 30);
        done += in;
        zr = deflate(&zs, done == size ? Z_FINISH : Z_NO_FLUSH);
        done -= zs.avail_in;
        if (zr == Z_OK && zs.avail_out != 0 && done == size)
            continue;
        if (zr == Z_BUF_ERROR && (size_t)(zs.next_out - out) < cap)
            zr = Z_OK;
    }
    size_t n = zr == Z_STREAM_END ? zs.total_out : 0;
    deflateEnd(&zs);
    return n;
}

/* Which of libdeflate and run-length zlib makes the smaller stream of
 * data, judged on eight evenly spaced samples. */
static bool rle_wins(struct libdeflate_compressor *c, const uint8_t *data, size_t size)
{
    size_t piece = size / 8 < (128u << 10) ? size / 8 : 128u << 10;
    size_t cap = libdeflate_zlib_compress_bound(c, piece) + compressBound((uLong)piece);
    uint8_t *buf = rf_malloc_large(cap);
    if (!buf)
        return false;
    uint64_t ours = 0, rle = 0;
    for (int i = 0; i < 8; i++) {
        const uint8_t *at = data + (size - piece) / 7 * (size_t)i;
        size_t a = libdeflate_zlib_compress(c, at, piece, buf, cap);
        size_t b = deflate_rle(at, piece, buf, cap);
        ours += a ? a : cap;
        rle += b ? b : cap;
    }
    free(buf);
    return rle < ours;
}

/* Data up to 4 MiB is compressed by libdeflate, and by run-length zlib as
 * well where libdeflate leaves more than 40% of it (rows that
 * are noise to a match finder: photographs), the smaller kept; larger data
 * is judged on samples first. */
#define WHOLE_MAX (4u << 20)
#define LITTLE_MATCHED(n, size) ((n) > (size) / 10 * 4)

int rf_fast_deflate(const uint8_t *data, size_t size, int level, uint8_t **out,
                    size_t *out_size, rf_msg *msg)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(deflate_level(level));
    if (!c)
        return rf_fail(msg, RAIIAF_ENOMEM, "PNG encoder: out of memory");
    size_t bound = libdeflate_zlib_compress_bound(c, size);
    size_t zbound = compressBound((uLong)size);
    if (zbound > bound && size <= (uLong)-1)
        bound = zbound;
    uint8_t *buf = rf_malloc_large(bound);
    uint8_t *other = level != 0 && size <= WHOLE_MAX ? rf_malloc_large(bound) : NULL;
    size_t n = 0;
    if (other) {
        n = libdeflate_zlib_compress(c, data, size, buf, bound);
        size_t m = !n || LITTLE_MATCHED(n, size) ? deflate_rle(data, size, other, bound) : 0;
        if (m && (!n || m < n)) {
            uint8_t *t = buf;
            buf = other;
            other = t;
            n = m;
        }
        free(other);
    } else if (buf) {
        if (level != 0 && size > WHOLE_MAX && rle_wins(c, data, size))
            n = deflate_rle(data, size, buf, bound);
        if (!n)
            n = libdeflate_zlib_compress(c, data, size, buf, bound);
    }
    libdeflate_free_compressor(c);
    if (!buf || !n) {
        free(buf);
        return rf_fail(msg, RAIIAF_ENOMEM, "PNG encoder: out of memory");
    }
    *out = buf;
    *out_size = n;
    return RAIIAF_OK;
}
