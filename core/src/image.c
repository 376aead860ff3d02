#include "internal.h"
#include "pngcolour.h"
#include "pngfast.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* Largest ancillary chunk libpng may allocate (iCCP, text): an ICC profile
 * is rarely above a few MiB. */
#define RF_PNG_CHUNK_MAX (64u << 20)

bool rf_is_png(const uint8_t *data, size_t size)
{
    return size >= 8 && png_sig_cmp(data, 0, 8) == 0;
}

/* The first bytes of `in`: all of it in memory, the head of a stream. */
static const uint8_t *in_peek(const rf_png_in *in, size_t *n)
{
    if (!in->rec) {
        *n = in->size;
        return in->data;
    }
    *n = in->rec->uncompressed_size < sizeof in->head ? (size_t)in->rec->uncompressed_size
                                                      : sizeof in->head;
    return in->head;
}

static uint64_t in_size(const rf_png_in *in)
{
    return in->rec ? in->rec->uncompressed_size : in->size;
}

/* libpng reports through callbacks: keep the message, never print. One
 * context serves reading (data, size, pos) and writing (out, oom). */
typedef struct png_io {
    rf_msg *msg;
    jmp_buf jmp;
    const char *who;
    const uint8_t *data;
    size_t size, pos;
    bool streaming;     /* reading from `stream`, not `data` */
    rf_stream stream;
    int stream_err;     /* the stream's failure, when it was one */
    rf_buf out;
    bool oom;
} png_io;

/* Reading from `in`; io_done() releases what this takes. */
static int io_init(png_io *io, const rf_png_in *in, rf_msg *msg)
{
    memset(io, 0, sizeof *io);
    io->msg = msg;
    io->who = "embedded PNG";
    io->data = in->data;
    io->size = in->size;
    if (!in->rec)
        return RAIIAF_OK;
    io->streaming = true;
    return rf_payload_open(&io->stream, in->src, in->rec, msg);
}

static void io_done(png_io *io)
{
    if (io->streaming)
        rf_stream_close(&io->stream);
}

/* What a longjmp out of libpng means: the stream's error, or a bad PNG. */
static int io_failure(const png_io *io)
{
    return io->stream_err ? io->stream_err : io->oom ? RAIIAF_ENOMEM : RAIIAF_EPNG;
}

static void png_error_cb(png_structp png, png_const_charp text)
{
    png_io *io = png_get_error_ptr(png);
    rf_fail(io->msg, RAIIAF_EPNG, "%s: %s", io->who, text);
    longjmp(io->jmp, 1);
}

static void png_warning_cb(png_structp png, png_const_charp text)
{
    (void)png;
    (void)text;
}

static void png_read_cb(png_structp png, png_bytep out, size_t n)
{
    png_io *io = png_get_io_ptr(png);
    if (io->streaming) {
        if (io->stream.produced + n > io->stream.expect)
            png_error(png, "unexpected end of PNG data");
        io->stream_err = rf_stream_read(&io->stream, out, n);
        if (io->stream_err)
            longjmp(io->jmp, 1); /* the message is the stream's */
        return;
    }
    if (n > io->size - io->pos)
        png_error(png, "unexpected end of PNG data");
    memcpy(out, io->data + io->pos, n);
    io->pos += n;
}

static png_structp new_reader(png_io *io, const raiiaf_limits *limits)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, io, png_error_cb,
                                             png_warning_cb);
    if (!png)
        return NULL;
    png_set_read_fn(png, io, png_read_cb);
    png_set_user_limits(png, limits->max_image_width, limits->max_image_height);
    png_set_chunk_malloc_max(png, RF_PNG_CHUNK_MAX);
    return png;
}

/* A libpng reader of `in` with its info struct; nothing to release on
 * failure. */
static int open_reader(png_io *io, const rf_png_in *in, const raiiaf_limits *limits,
                       png_structp *png, png_infop *pi, rf_msg *msg)
{
    int err = io_init(io, in, msg);
    *png = err ? NULL : new_reader(io, limits);
    *pi = *png ? png_create_info_struct(*png) : NULL;
    if (!*pi) {
        png_destroy_read_struct(png, NULL, NULL);
        io_done(io);
        return err ? err : rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
    }
    return RAIIAF_OK;
}

static int natural_format(int color_type, int bit_depth, bool trns)
{
    bool alpha = (color_type & PNG_COLOR_MASK_ALPHA) || trns;
    bool color = color_type & PNG_COLOR_MASK_COLOR;
    if (bit_depth == 16)
        return color ? (alpha ? RAIIAF_FMT_RGBA16 : RAIIAF_FMT_RGB16)
                     : (alpha ? RAIIAF_FMT_GA16 : RAIIAF_FMT_G16);
    return color ? (alpha ? RAIIAF_FMT_RGBA8 : RAIIAF_FMT_RGB8)
                 : (alpha ? RAIIAF_FMT_GA8 : RAIIAF_FMT_G8);
}

static int check_pixels(const raiiaf_limits *limits, png_uint_32 w, png_uint_32 h, rf_msg *msg)
{
    if ((uint64_t)w * h > limits->max_image_pixels)
        return rf_fail(msg, RAIIAF_ELIMIT, "embedded PNG: %ux%u pixels exceed the limit of %llu",
                       (unsigned)w, (unsigned)h, (unsigned long long)limits->max_image_pixels);
    return RAIIAF_OK;
}

int rf_png_info(const rf_png_in *in, const raiiaf_limits *limits, raiiaf_image_info *info,
                uint8_t **icc, size_t *icc_size, char **icc_name, rf_msg *msg)
{
    size_t size;
    const uint8_t *data = in_peek(in, &size);
    if (!rf_is_png(data, size))
        return rf_fail(msg, RAIIAF_ENOTPNG, "the image chunk holds %s, not PNG",
                       size >= 3 && data[0] == 0xff && data[1] == 0xd8 ? "a JPEG"
                       : size >= 4 && !memcmp(data, "RIFF", 4)        ? "a RIFF (WebP?) file"
                                                                       : "unknown data");
    /* libpng refuses a size over its user limits as "Invalid IHDR data":
     * name the limit instead. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint32_t w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 |
                     (uint32_t)data[18] << 8 | data[19];
        uint32_t h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 |
                     (uint32_t)data[22] << 8 | data[23];
        if (w > limits->max_image_width || h > limits->max_image_height)
            return rf_fail(msg, RAIIAF_ELIMIT, "embedded PNG: %ux%u exceeds the limit of %ux%u",
                           (unsigned)w, (unsigned)h, (unsigned)limits->max_image_width,
                           (unsigned)limits->max_image_height);
    }
    png_io io;
    png_structp png;
    png_infop pi;
    int err = open_reader(&io, in, limits, &png, &pi, msg);
    if (err)
        return err;
    uint8_t *volatile icc_copy = NULL;
    char *volatile name_copy = NULL;
    if (setjmp(io.jmp)) {
        png_destroy_read_struct(&png, &pi, NULL);
        io_done(&io);
        free(icc_copy);
        free(name_copy);
        return io_failure(&io);
    }
    png_read_info(png, pi);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, pi, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    err = check_pixels(limits, w, h, msg);
    if (err) {
        png_destroy_read_struct(&png, &pi, NULL);
        io_done(&io);
        return err;
    }
    memset(info, 0, sizeof *info);
    info->width = w;
    info->height = h;
    info->png_bit_depth = depth;
    info->png_color_type = ctype;
    info->interlaced = interlace != PNG_INTERLACE_NONE;
    bool trns = png_get_valid(png, pi, PNG_INFO_tRNS) != 0;
    info->format = natural_format(ctype, depth, trns);
    info->srgb_intent = -1;
    int intent;
    if (png_get_sRGB(png, pi, &intent))
        info->srgb_intent = intent;
    double gamma;
    if (png_get_gAMA(png, pi, &gamma))
        info->gamma = gamma;
    png_uint_32 rx, ry;
    int unit;
    if (png_get_pHYs(png, pi, &rx, &ry, &unit) && unit == PNG_RESOLUTION_METER) {
        info->ppm_x = rx;
        info->ppm_y = ry;
    }
    info->image_size = in_size(in);
    png_charp name;
    int ctype_unused;
    png_bytep prof;
    png_uint_32 plen;
    if (png_get_iCCP(png, pi, &name, &ctype_unused, &prof, &plen) && plen > 0) {
        info->has_icc = 1;
        if (icc) {
            icc_copy = malloc(plen);
            name_copy = rf_strdup(name ? name : "ICC profile");
            if (!icc_copy || !name_copy) {
                png_destroy_read_struct(&png, &pi, NULL);
                io_done(&io);
                free(icc_copy);
                free(name_copy);
                return rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
            }
            memcpy(icc_copy, prof, plen);
            *icc = icc_copy;
            *icc_size = plen;
            *icc_name = name_copy;
        }
    }
    png_destroy_read_struct(&png, &pi, NULL);
    io_done(&io);
    return RAIIAF_OK;
}

int rf_png_read_header(const rf_png_in *in, const raiiaf_limits *limits, rf_png_header_fn fn,
                       void *user, rf_msg *msg)
{
    size_t size;
    const uint8_t *data = in_peek(in, &size);
    if (!rf_is_png(data, size))
        return rf_fail(msg, RAIIAF_ENOTPNG, "the image chunk is not PNG");
    png_io io;
    png_structp png;
    png_infop pi;
    int err = open_reader(&io, in, limits, &png, &pi, msg);
    if (err)
        return err;
    if (setjmp(io.jmp)) {
        png_destroy_read_struct(&png, &pi, NULL);
        io_done(&io);
        return io_failure(&io);
    }
    png_read_info(png, pi);
    err = fn(png, pi, user);
    png_destroy_read_struct(&png, &pi, NULL);
    io_done(&io);
    return err;
}

/* A PNG reader set up to give rows in `format`. Lives in the context for
 * row-by-row decoding (libpng keeps a pointer to `io`). */
struct rf_png_rows {
    png_io io;
    png_structp png;
    png_infop info;
    uint32_t width, height, next_row;
    size_t stride;
    int format;
    int how;        /* RF_PNG_AUTO, RF_PNG_LIBPNG, RF_PNG_FAST, RF_PNG_ONE_THREAD */
    rf_prefault prefault; /* of the caller's buffer, while inflating */
    uint64_t fast_max; /* the most rows pngfast.c may inflate at once */
    rf_fast *fast;  /* the rows come from here when set (pngfast.c) */
};

void rf_png_rows_free(rf_png_rows *r)
{
    if (!r)
        return;
    rf_prefault_end(&r->prefault);
    rf_fast_free(r->fast);
    png_destroy_read_struct(&r->png, &r->info, NULL);
    io_done(&r->io);
    free(r);
}

/* What pngfast.c needs of the header, as libpng read it (before
 * png_read_update_info, which drops tRNS once it becomes alpha). */
static void fast_header(png_structp png, png_infop pi, rf_fast_header *h)
{
    png_colorp pal;
    int npal;
    if (png_get_PLTE(png, pi, &pal, &npal)) {
        h->palette_count = npal < 256 ? npal : 256;
        for (int i = 0; i < h->palette_count; i++) {
            h->palette[3 * i] = pal[i].red;
            h->palette[3 * i + 1] = pal[i].green;
            h->palette[3 * i + 2] = pal[i].blue;
        }
    }
    png_bytep ta;
    int nt;
    png_color_16p tc;
    if (png_get_tRNS(png, pi, &ta, &nt, &tc)) {
        h->has_trns = true;
        h->trans_alpha = ta;
        h->trans_count = h->color_type == PNG_COLOR_TYPE_PALETTE ? nt : 0;
        if (tc) {
            h->trans_gray = tc->gray;
            h->trans_rgb[0] = tc->red;
            h->trans_rgb[1] = tc->green;
            h->trans_rgb[2] = tc->blue;
        }
    }
}

/* Reads the header and sets the conversions to `format`. libpng errors
 * longjmp to r->io.jmp, which the caller has set. */
static int setup_rows(rf_png_rows *r, const raiiaf_limits *limits, size_t out_size, rf_msg *msg)
{
    png_structp png = r->png;
    png_infop pi = r->info;
    int format = r->format;
    size_t psize = raiiaf_format_pixel_size(format);
    png_read_info(png, pi);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, pi, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int err = check_pixels(limits, w, h, msg);
    if (err)
        return err;
    rf_fast_header fh = {.width = w, .height = h, .depth = depth, .color_type = ctype};
    fast_header(png, pi, &fh);
    if (out_size / psize < w)
        return rf_fail(msg, RAIIAF_ERANGE, "output buffer of %zu bytes is too small for %u pixels",
                       out_size, (unsigned)w);
    bool trns = png_get_valid(png, pi, PNG_INFO_tRNS) != 0;
    bool want_alpha = rf_format_has_alpha(format), want_color = rf_format_is_color(format);
    bool want16 = rf_format_is_16(format);

    if (format == RAIIAF_FMT_INDEX8) {
        if (ctype != PNG_COLOR_TYPE_PALETTE)
            return rf_fail(msg, RAIIAF_EINVAL, "palette indices asked of a PNG without palette");
        png_set_packing(png);
        goto converted;
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    /* libpng's palette and 16-bit expansions turn tRNS into alpha on their
     * own; always doing so keeps one path: alpha is stripped below when the
     * format has none. */
    if (trns)
        png_set_tRNS_to_alpha(png);
    bool has_alpha = (ctype & PNG_COLOR_MASK_ALPHA) || trns;
    bool is_color = ctype & PNG_COLOR_MASK_COLOR;
    if (want16 && depth < 16)
        png_set_expand_16(png);
    else if (!want16 && depth == 16)
        png_set_scale_16(png);
    if (is_color && !want_color)
        png_set_rgb_to_gray(png, PNG_ERROR_ACTION_NONE, -1, -1);
    else if (!is_color && want_color)
        png_set_gray_to_rgb(png);
    if (has_alpha && !want_alpha)
        png_set_strip_alpha(png);
    else if (!has_alpha && want_alpha)
        png_set_add_alpha(png, 0xffff, PNG_FILLER_AFTER);
converted:
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
    if (want16)
        png_set_swap(png);
#endif
    png_set_interlace_handling(png);
    png_read_update_info(png, pi);
    r->width = w;
    r->height = h;
    r->stride = (size_t)w * psize;
    if (png_get_rowbytes(png, pi) != r->stride)
        return rf_fail(msg, RAIIAF_EPNG, "embedded PNG: unexpected row size after conversion");
    if (interlace != PNG_INTERLACE_NONE)
        return RAIIAF_EUNSUPPORTED; /* the caller decides: whole image only */
    if ((r->how & RF_PNG_PATH) == RF_PNG_LIBPNG || r->io.streaming)
        return RAIIAF_OK;
    err = rf_fast_open(&r->fast, r->io.data, r->io.size, r->io.pos, &fh, format,
                       r->fast_max, msg);
    return err == RAIIAF_EUNSUPPORTED ? RAIIAF_OK : err; /* libpng reads what it declines */
}

static rf_png_rows *new_rows(const rf_png_in *in, const raiiaf_limits *limits, int format,
                             int how, rf_msg *msg, int *err)
{
    rf_png_rows *r = calloc(1, sizeof *r);
    if (!r) {
        *err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
        return NULL;
    }
    *err = io_init(&r->io, in, msg);
    if (*err) {
        rf_png_rows_free(r);
        return NULL;
    }
    *err = RAIIAF_ENOMEM;
    r->format = format;
    r->how = how;
    r->png = new_reader(&r->io, limits);
    r->info = r->png ? png_create_info_struct(r->png) : NULL;
    if (!r->info) {
        rf_png_rows_free(r);
        rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
        return NULL;
    }
    return r;
}

int rf_png_decode(const rf_png_in *in, const raiiaf_limits *limits, int format, void *out,
                  size_t out_size, rf_msg *msg)
{
    return rf_png_decode_how(in, limits, format, out, out_size, RF_PNG_AUTO, msg);
}

int rf_png_decode_how(const rf_png_in *in, const raiiaf_limits *limits, int format, void *out,
                      size_t out_size, int how, rf_msg *msg)
{
    if (!raiiaf_format_pixel_size(format))
        return rf_fail(msg, RAIIAF_EINVAL, "unknown pixel format %d", format);
    size_t size;
    const uint8_t *data = in_peek(in, &size);
    if (!rf_is_png(data, size))
        return rf_fail(msg, RAIIAF_ENOTPNG, "the image chunk is not PNG");
    int err;
    rf_png_rows *r = new_rows(in, limits, format, how, msg, &err);
    if (!r)
        return err;
    /* Into the caller's buffer the inflated rows may be as large as the
     * image; a check with no output (verify, pack) keeps to the row limit,
     * so a huge image is checked in the memory of a few rows. */
    r->fast_max = out ? UINT64_MAX : RF_FAST_ROWS_MAX;
    png_bytep *volatile rows = NULL;
    if (!(how & RF_PNG_ONE_THREAD))
        rf_prefault_begin(&r->prefault, out, out_size);
    if (setjmp(r->io.jmp)) {
        err = io_failure(&r->io);
        rf_png_rows_free(r);
        free(rows);
        return err;
    }
    err = setup_rows(r, limits, out ? out_size : SIZE_MAX, msg);
    rf_prefault_end(&r->prefault); /* before the first row is written */
    int passes = err == RAIIAF_EUNSUPPORTED ? 7 : 1;
    if (err == RAIIAF_EUNSUPPORTED) /* interlaced: fine for the whole image */
        err = RAIIAF_OK;
    if (!err && (how & RF_PNG_PATH) == RF_PNG_FAST && !r->fast)
        err = RAIIAF_EUNSUPPORTED;
    if (!err && r->fast) {
        uint8_t *row = out ? NULL : malloc(r->stride);
        if (!out && !row)
            err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
        else if (out && out_size / r->stride < r->height)
            err = rf_fail(msg, RAIIAF_ERANGE, "output buffer of %zu bytes is too small for %ux%u",
                          out_size, (unsigned)r->width, (unsigned)r->height);
        if (!err && out)
            rf_fast_image(r->fast, out, r->stride);
        for (uint32_t y = 0; !err && !out && y < r->height; y++)
            rf_fast_row(r->fast, row);
        free(row);
        rf_png_rows_free(r);
        return err;
    }
    if (!err && !out) { /* a check: every row of every pass, one row kept */
        if (!(rows = malloc(r->stride)))
            err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
        for (int p = 0; !err && p < passes; p++)
            for (uint32_t y = 0; y < r->height; y++)
                png_read_row(r->png, (png_bytep)rows, NULL);
        if (!err)
            png_read_end(r->png, NULL);
        rf_png_rows_free(r);
        free(rows);
        return err;
    }
    if (!err && out_size / r->stride < r->height)
        err = rf_fail(msg, RAIIAF_ERANGE, "output buffer of %zu bytes is too small for %ux%u",
                      out_size, (unsigned)r->width, (unsigned)r->height);
    if (!err && !(rows = malloc((size_t)r->height * sizeof *rows)))
        err = rf_fail(msg, RAIIAF_ENOMEM, "embedded PNG: out of memory");
    if (err) {
        rf_png_rows_free(r);
        return err;
    }
    for (uint32_t y = 0; y < r->height; y++)
        rows[y] = (png_bytep)out + (size_t)y * r->stride;
    png_read_image(r->png, rows);
    png_read_end(r->png, NULL);
    rf_png_rows_free(r);
    free(rows);
    return RAIIAF_OK;
}

/* ---- encoding --------------------------------------------------------- */

static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
    png_io *o = png_get_io_ptr(png);
    if (rf_buf_append(&o->out, data, n)) {
        o->oom = true;
        png_error(png, "out of memory");
    }
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

/* The rows of px as the PNG stores them: 16-bit samples big-endian, palette
 * indices packed at depth bits; 8-bit rows are px's own. */
static int png_rows(const raiiaf_pixels *px, size_t stride, int depth, const uint8_t ***rows_out,
                    uint8_t **copy_out, size_t *rowbytes_out, rf_msg *msg)
{
    int f = px->format;
    size_t psize = raiiaf_format_pixel_size(f);
    size_t rowbytes = f == RAIIAF_FMT_INDEX8 ? ((size_t)px->width * (unsigned)depth + 7) / 8
                                             : (size_t)px->width * psize;
    bool own = rf_format_is_16(f) || depth < 8;
    const uint8_t **rows = malloc((size_t)px->height * sizeof *rows);
    uint8_t *copy = own && rows ? malloc(rowbytes * px->height) : NULL;
    if (!rows || (own && !copy)) {
        free(rows);
        return rf_fail(msg, RAIIAF_ENOMEM, "PNG encoder: out of memory");
    }
    for (uint32_t y = 0; y < px->height; y++) {
        const uint8_t *src = (const uint8_t *)px->data + (size_t)y * stride;
        uint8_t *dst = own ? copy + (size_t)y * rowbytes : NULL;
        if (rf_format_is_16(f)) {
            for (size_t i = 0; i < rowbytes; i += 2) {
                uint16_t v;
                memcpy(&v, src + i, 2);
                dst[i] = (uint8_t)(v >> 8);
                dst[i + 1] = (uint8_t)v;
            }
        } else if (depth < 8) {
            memset(dst, 0, rowbytes);
            for (uint32_t x = 0; x < px->width; x++) {
                size_t bit = (size_t)x * (unsigned)depth;
                dst[bit >> 3] |= (uint8_t)(src[x] << (8 - depth - (bit & 7)));
            }
        }
        rows[y] = own ? dst : src;
    }
    *rows_out = rows;
    *copy_out = copy;
    *rowbytes_out = rowbytes;
    return RAIIAF_OK;
}

/* The IDAT stream of px: filtered as libpng filters (adaptive on 8- and
 * 16-bit non-palette images, none on palette and low depths; none at level
 * 0), deflated by libdeflate; then IEND. Not inlined into rf_png_encode,
 * whose setjmp would make its locals volatile. */
__attribute__((noinline)) static int write_pixels(rf_buf *out, const raiiaf_pixels *px, size_t stride, int depth,
                        int ctype, int level, rf_msg *msg)
{
    const uint8_t **rows = NULL;
    uint8_t *copy = NULL, *z = NULL;
    size_t rowbytes = 0, zsize = 0;
    int err = png_rows(px, stride, depth, &rows, &copy, &rowbytes, msg);
    if (err)
        return err;
    size_t channels = ctype == PNG_COLOR_TYPE_RGBA ? 4 : ctype == PNG_COLOR_TYPE_RGB ? 3
                      : ctype == PNG_COLOR_TYPE_GA ? 2 : 1;
    unsigned bpp = depth < 8 ? 1 : (unsigned)(channels * (size_t)depth / 8);
    bool adaptive = level != 0 && depth >= 8 && ctype != PNG_COLOR_TYPE_PALETTE;
    uint8_t *filtered = rf_fast_filter(rows, px->height, rowbytes, bpp, adaptive);
    free(rows);
    free(copy);
    if (!filtered)
        return rf_fail(msg, RAIIAF_ENOMEM, "PNG encoder: out of memory");
    err = rf_fast_deflate(filtered, (rowbytes + 1) * px->height, level, &z, &zsize, msg);
    free(filtered);
    /* IDAT chunks of up to 1 GiB: one for all but huge images. */
    for (size_t at = 0; !err && at < zsize; at += 1u << 30) {
        size_t n = zsize - at < (1u << 30) ? zsize - at : (1u << 30);
        err = rf_png_chunk(out, "IDAT", z + at, n, msg);
    }
    free(z);
    return err ? err : rf_png_chunk(out, "IEND", NULL, 0, msg);
}

int rf_png_encode(const raiiaf_pixels *px, int level, uint8_t **out, size_t *out_size, rf_msg *msg)
{
    size_t psize = raiiaf_format_pixel_size(px->format);
    if (!psize || !px->data || px->width == 0 || px->height == 0 || px->width > 0x7fffffff ||
        px->height > 0x7fffffff)
        return rf_fail(msg, RAIIAF_EINVAL, "pixels: invalid size, format or data");
    size_t stride = px->stride ? px->stride : (size_t)px->width * psize;
    if (stride < (size_t)px->width * psize)
        return rf_fail(msg, RAIIAF_EINVAL, "pixels: stride smaller than a row");
    if (level < -1 || level > 9)
        return rf_fail(msg, RAIIAF_EINVAL, "PNG compression level %d (0-9, -1 default)", level);
    int f = px->format;
    int ctype = rf_format_is_color(f) ? (rf_format_has_alpha(f) ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB)
                                   : (rf_format_has_alpha(f) ? PNG_COLOR_TYPE_GA : PNG_COLOR_TYPE_GRAY);
    int depth = rf_format_is_16(f) ? 16 : 8;
    if (f == RAIIAF_FMT_INDEX8) {
        int err = rf_check_palette(px, stride, msg);
        if (err)
            return err;
        ctype = PNG_COLOR_TYPE_PALETTE;
        depth = px->palette_count <= 2 ? 1 : px->palette_count <= 4 ? 2
                : px->palette_count <= 16 ? 4 : 8;
    }
    png_io o = {.msg = msg, .who = "PNG encoder"};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &o, png_error_cb,
                                              png_warning_cb);
    png_infop pi = png ? png_create_info_struct(png) : NULL;
    if (!pi) {
        png_destroy_write_struct(&png, NULL);
        return rf_fail(msg, RAIIAF_ENOMEM, "PNG encoder: out of memory");
    }
    if (setjmp(o.jmp)) {
        png_destroy_write_struct(&png, &pi);
        rf_buf_free(&o.out);
        return o.oom ? RAIIAF_ENOMEM : RAIIAF_EPNG;
    }
    png_set_write_fn(png, &o, png_write_cb, png_flush_cb);
#if defined(PNG_SET_OPTION_SUPPORTED) && defined(PNG_SKIP_sRGB_CHECK_PROFILE)
    /* libpng before 1.6.44 (Debian 12 has 1.6.39) refuses to write a few
     * old sRGB profiles it knows by checksum ("known incorrect sRGB
     * profile"); files carry them, and a profile goes out as it came in. */
    png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
#endif
    png_set_compression_level(png, level < 0 ? 6 : level);
    png_set_IHDR(png, pi, px->width, px->height, depth, ctype,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        rf_png_set_palette(png, pi, px);
    if (px->icc && px->icc_size)
        png_set_iCCP(png, pi, px->icc_name ? px->icc_name : "ICC profile", 0, px->icc,
                     (png_uint_32)px->icc_size);
    if (px->has_srgb && px->srgb_intent >= 0 && px->srgb_intent <= 3)
        png_set_sRGB(png, pi, px->srgb_intent);
    if (px->gamma > 0 && px->gamma <= 21474.83)
        png_set_gAMA(png, pi, px->gamma);
    if (px->has_chromaticities)
        png_set_cHRM(png, pi, px->white_x, px->white_y, px->red_x, px->red_y, px->green_x,
                     px->green_y, px->blue_x, px->blue_y);
    if (px->ppm_x && px->ppm_y)
        png_set_pHYs(png, pi, px->ppm_x, px->ppm_y, PNG_RESOLUTION_METER);
    png_write_info(png, pi); /* the chunks before the image: libpng's */
    png_destroy_write_struct(&png, &pi);
    int err = write_pixels(&o.out, px, stride, depth, ctype, level, msg);
    if (err) {
        rf_buf_free(&o.out);
        return err;
    }
    *out = o.out.data;
    *out_size = o.out.size;
    return RAIIAF_OK;
}

/* ---- the reader's image calls ------------------------------------------ */

static int load_whole_image(raiiaf_ctx *ctx, rf_msg *msg)
{
    const rf_record *rec = &ctx->records[ctx->data_record];
    int err = rf_load_payload(&ctx->src, rec, ctx->threads, &ctx->image_alloc, &ctx->image, msg);
    if (err)
        return err;
    ctx->image_size = (size_t)rec->uncompressed_size;
    ctx->image_in = (rf_png_in){.data = ctx->image, .size = ctx->image_size};
    return RAIIAF_OK;
}

int rf_ctx_load_image(raiiaf_ctx *ctx)
{
    int err = rf_cached_get(&ctx->image_cache, &ctx->msg);
    if (err != RF_CACHE_EMPTY)
        return err;
    if (ctx->data_record < 0) {
        err = rf_fail(&ctx->image_cache.msg, RAIIAF_ENOIMAGE, "the file has no DATA (image) chunk");
    } else if (rf_payload_out_of_proportion(&ctx->records[ctx->data_record])) {
        /* Checked in one pass now, then decoded from the stream each time:
         * the inflated bytes are never held. */
        const rf_record *rec = &ctx->records[ctx->data_record];
        ctx->image_in = (rf_png_in){.src = &ctx->src, .rec = rec};
        err = rf_payload_check_streamed(&ctx->src, rec, ctx->image_in.head, &ctx->image_cache.msg);
    } else {
        err = load_whole_image(ctx, &ctx->image_cache.msg);
    }
    return rf_cached_set(&ctx->image_cache, err, &ctx->msg);
}

static int load_info(raiiaf_ctx *ctx)
{
    int err = rf_ctx_load_image(ctx);
    if (err)
        return err;
    err = rf_cached_get(&ctx->info_cache, &ctx->msg);
    if (err != RF_CACHE_EMPTY)
        return err;
    err = rf_png_info(&ctx->image_in, &ctx->limits, &ctx->info, &ctx->icc, &ctx->icc_size,
                      &ctx->icc_name, &ctx->info_cache.msg);
    return rf_cached_set(&ctx->info_cache, err, &ctx->msg);
}

/* The start of an image call: an open context, the arguments given, the
 * PNG's header read. */
static int image_call(raiiaf_ctx *ctx, bool args_given)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!args_given)
        return RF_BAD_ARGS(&ctx->msg);
    return load_info(ctx);
}

int raiiaf_get_image_info(raiiaf_ctx *ctx, raiiaf_image_info *info)
{
    int err = image_call(ctx, info != NULL);
    if (err)
        return err;
    *info = ctx->info;
    return RAIIAF_OK;
}

int raiiaf_get_image_data(raiiaf_ctx *ctx, const void **data, size_t *size)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!data || !size)
        return RF_BAD_ARGS(&ctx->msg);
    err = rf_ctx_load_image(ctx);
    if (!err && !ctx->image) /* streamed until now: the bytes themselves are asked for */
        err = load_whole_image(ctx, &ctx->msg);
    if (err)
        return err;
    *data = ctx->image;
    *size = ctx->image_size;
    return RAIIAF_OK;
}

int raiiaf_get_icc_profile(raiiaf_ctx *ctx, const void **data, size_t *size, const char **name)
{
    int err = image_call(ctx, true);
    if (err)
        return err;
    if (data)
        *data = ctx->icc;
    if (size)
        *size = ctx->icc_size;
    if (name)
        *name = ctx->icc_name;
    return RAIIAF_OK;
}

int raiiaf_decoded_image_size(raiiaf_ctx *ctx, int format, size_t *size)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    size_t psize = raiiaf_format_pixel_size(format);
    if (!psize || !size)
        return rf_fail(&ctx->msg, RAIIAF_EINVAL, "unknown pixel format %d", format);
    err = load_info(ctx);
    if (err)
        return err;
    uint64_t total = (uint64_t)ctx->info.width * ctx->info.height * psize;
    if (total > SIZE_MAX)
        return rf_fail(&ctx->msg, RAIIAF_ELIMIT, "image too large for this machine");
    *size = (size_t)total;
    return RAIIAF_OK;
}

int raiiaf_decode_rows_begin(raiiaf_ctx *ctx, int format)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!raiiaf_format_pixel_size(format))
        return rf_fail(&ctx->msg, RAIIAF_EINVAL, "unknown pixel format %d", format);
    err = load_info(ctx);
    if (err)
        return err;
    rf_png_rows_free(ctx->rows);
    ctx->rows = new_rows(&ctx->image_in, &ctx->limits, format, RF_PNG_AUTO, &ctx->msg, &err);
    if (!ctx->rows)
        return err;
    rf_png_rows *r = ctx->rows;
    r->fast_max = ctx->row_buffer_limit && ctx->row_buffer_limit < RF_FAST_ROWS_MAX
                      ? ctx->row_buffer_limit
                      : RF_FAST_ROWS_MAX;
    if (setjmp(r->io.jmp)) {
        err = io_failure(&r->io);
        rf_png_rows_free(r);
        ctx->rows = NULL;
        return err;
    }
    err = setup_rows(r, &ctx->limits, SIZE_MAX, &ctx->msg);
    if (err == RAIIAF_EUNSUPPORTED)
        rf_fail(&ctx->msg, err, "an interlaced PNG cannot be decoded row by row: use "
                "raiiaf_decode_image()");
    if (err) {
        rf_png_rows_free(r);
        ctx->rows = NULL;
    }
    return err;
}

int raiiaf_decode_row(raiiaf_ctx *ctx, void *row, size_t row_size)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    rf_png_rows *r = ctx->rows;
    if (!r)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE, "raiiaf_decode_rows_begin() first");
    if (!row || row_size < r->stride)
        return rf_fail(&ctx->msg, RAIIAF_ERANGE, "a row needs %zu bytes", r->stride);
    if (r->next_row >= r->height)
        return rf_fail(&ctx->msg, RAIIAF_ERANGE, "all %u rows were read", (unsigned)r->height);
    if (setjmp(r->io.jmp)) {
        err = io_failure(&r->io);
        rf_png_rows_free(r); /* a broken stream gives no further rows */
        ctx->rows = NULL;
        return err;
    }
    if (r->fast)
        rf_fast_row(r->fast, row);
    else
        png_read_row(r->png, row, NULL);
    r->next_row++;
    return RAIIAF_OK;
}

int raiiaf_decode_image(raiiaf_ctx *ctx, int format, void *out, size_t out_size)
{
    int err = image_call(ctx, out != NULL);
    if (err)
        return err;
    return rf_png_decode_how(&ctx->image_in, &ctx->limits, format, out, out_size,
                             RF_PNG_AUTO | (ctx->threads == 1 ? RF_PNG_ONE_THREAD : 0),
                             &ctx->msg);
}
