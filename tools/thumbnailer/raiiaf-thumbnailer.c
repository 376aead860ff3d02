/* raiiaf-thumbnailer: a PNG preview of a .raiiaf file for file managers.
 *
 * SPDX-License-Identifier: MIT
 *
 *   raiiaf-thumbnailer [-s SIZE] INPUT OUTPUT
 *
 * Run by the desktop's thumbnail factory through raiiaf.thumbnailer
 * (Exec=raiiaf-thumbnailer -s %s %i %o), usually inside a bwrap sandbox
 * that only lets it read INPUT and write OUTPUT's folder. It therefore
 * reads only INPUT (through libraiiaf: the embedded image, never the
 * latents) and writes only OUTPUT, through the library's atomic writer (a
 * temporary file in OUTPUT's folder renamed into place), so a failure
 * leaves nothing behind.
 *
 * The image is scaled so that its longer edge is at most SIZE pixels (never
 * enlarged, aspect kept) with an exact area-average (box) filter on
 * premultiplied alpha, and written as an 8-bit RGB or RGBA PNG.
 *
 * Exit status: 0 when OUTPUT was written, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raiiaf.h>

#define DEFAULT_SIZE 256
#define MAX_SIZE 8192
/* A thumbnailer runs on every file a file manager shows, so it refuses
 * images larger than this (16384 x 16384) through the library's pixel
 * limit: decoding them would take seconds, and an interlaced one, which
 * cannot be read row by row, gigabytes. */
#define MAX_SOURCE_PIXELS (UINT64_C(1) << 28)
/* A file manager runs many thumbnailers at once: a large image is decoded
 * in the memory of a few rows, not inflated whole (the library's faster
 * default holds up to 64 MiB of rows). */
#define MAX_ROW_BUFFER (UINT64_C(8) << 20)
/* An interlaced image is decoded whole: refused when its pixels would take
 * more than this (about 4096 x 4096 RGBA), where a non-interlaced image of
 * any allowed size costs a few rows. */
#define MAX_INTERLACED_BYTES (UINT64_C(64) << 20)

static const char *program_name = "raiiaf-thumbnailer";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [-s SIZE] INPUT OUTPUT\n"
            "Write a PNG thumbnail of the .raiiaf file INPUT to OUTPUT.\n"
            "\n"
            "  -s, --size=SIZE  longest edge of the thumbnail in pixels (1-%d,\n"
            "                   default %d); smaller images are not enlarged\n"
            "  -h, --help       show this help and exit\n"
            "  -V, --version    show the version and exit\n"
            "\n"
            "Exit status is 0 when OUTPUT was written and 1 otherwise; on failure\n"
            "OUTPUT is left untouched.\n",
            program_name, MAX_SIZE, DEFAULT_SIZE);
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "%s: %s%s%s\n", program_name, what, detail && *detail ? ": " : "",
            detail ? detail : "");
}

/* ---- Area-average scaling --------------------------------------------
 *
 * Along one axis, n source pixels map onto m <= n destination pixels.
 * Measured in units of 1/m source pixel, source pixel j covers
 * [j*m, (j+1)*m) and destination pixel i covers [i*n, (i+1)*n), so every
 * overlap is an exact integer and destination i is the sum of its overlaps
 * divided by n. */
typedef struct axis_map {
    uint32_t *first;   /* first source index of each destination pixel */
    uint32_t *count;   /* number of source pixels it takes */
    size_t *weight_at; /* where its weights start in weights[] */
    float *weights;    /* overlap / n, summing to 1 per destination pixel */
} axis_map;

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static void axis_map_free(axis_map *map)
{
    free(map->first);
    free(map->count);
    free(map->weight_at);
    free(map->weights);
}

static int axis_map_init(axis_map *map, uint32_t n, uint32_t m)
{
    /* Each destination pixel overlaps at most ceil(n/m) + 1 source pixels. */
    size_t per_pixel = (size_t)(n / m) + 2;
    map->first = calloc(m, sizeof *map->first);
    map->count = calloc(m, sizeof *map->count);
    map->weight_at = calloc(m, sizeof *map->weight_at);
    map->weights = calloc((size_t)m * per_pixel, sizeof *map->weights);
    if (!map->first || !map->count || !map->weight_at || !map->weights) {
        axis_map_free(map);
        return -1;
    }
    size_t next = 0;
    for (uint32_t i = 0; i < m; i++) {
        uint64_t start = (uint64_t)i * n, end = (uint64_t)(i + 1) * n;
        uint32_t j = (uint32_t)(start / m);
        map->first[i] = j;
        map->weight_at[i] = next;
        for (; j < n && (uint64_t)j * m < end; j++) {
            uint64_t lo = max_u64(start, (uint64_t)j * m);
            uint64_t hi = min_u64(end, (uint64_t)(j + 1) * m);
            if (hi <= lo)
                continue;
            map->weights[next++] = (float)((double)(hi - lo) / (double)n);
            map->count[i]++;
        }
    }
    return 0;
}

/* The source: 3 or 4 channels of 8 or 16 bits, either decoded whole
 * (`pixels`) or read row by row from the library (`ctx`), which keeps
 * memory to a few rows however large the image. Rows are asked for in
 * order, each at most twice in a row (a row shared by two destination
 * rows), so one row buffer serves. */
typedef struct source_image {
    const uint8_t *pixels;  /* the whole image, or NULL */
    raiiaf_ctx *ctx;        /* row by row when pixels is NULL */
    uint8_t *row;           /* the last row read */
    uint32_t next_row;      /* rows read so far */
    uint32_t width, height;
    unsigned channels;
    int sixteen;
} source_image;

static size_t source_row_bytes(const source_image *src)
{
    return (size_t)src->width * src->channels * (src->sixteen ? 2 : 1);
}

/* Row y of the source, or NULL when the library fails to decode it. */
static const uint8_t *source_row(source_image *src, uint32_t y)
{
    if (src->pixels)
        return src->pixels + (size_t)y * source_row_bytes(src);
    while (src->next_row <= y) {
        if (raiiaf_decode_row(src->ctx, src->row, source_row_bytes(src)) != RAIIAF_OK)
            return NULL;
        src->next_row++;
    }
    return y + 1 == src->next_row ? src->row : NULL;
}

/* One source row, horizontally scaled, as premultiplied floats 0..1.
 * Returns -1 when the row cannot be decoded. */
static int scale_row(source_image *src, uint32_t y, const axis_map *xmap, uint32_t out_width,
                     float *out)
{
    const unsigned ch = src->channels;
    const uint8_t *row = source_row(src, y);
    const float scale = src->sixteen ? 1.0f / 65535.0f : 1.0f / 255.0f;

    if (!row)
        return -1;
    for (uint32_t x = 0; x < out_width; x++) {
        float acc[4] = {0, 0, 0, 0};
        const float *w = xmap->weights + xmap->weight_at[x];
        for (uint32_t k = 0; k < xmap->count[x]; k++) {
            size_t sx = (size_t)(xmap->first[x] + k) * ch;
            float v[4];
            for (unsigned c = 0; c < ch; c++) {
                if (src->sixteen) {
                    uint16_t s;
                    memcpy(&s, row + 2 * (sx + c), 2); /* host byte order */
                    v[c] = s * scale;
                } else {
                    v[c] = row[sx + c] * scale;
                }
            }
            /* Premultiply so that transparent pixels lend no colour. */
            float a = ch == 4 ? v[3] : 1.0f;
            acc[0] += w[k] * v[0] * a;
            acc[1] += w[k] * v[1] * a;
            acc[2] += w[k] * v[2] * a;
            acc[3] += w[k] * a;
        }
        memcpy(out + (size_t)x * 4, acc, sizeof acc);
    }
    return 0;
}

static uint8_t to_u8(float v)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

/* Scales src into dst (out_width x out_height, src->channels channels of
 * 8 bits, packed rows). Returns 0, -1 when out of memory, -2 when a source
 * row cannot be decoded. */
static int scale_image(source_image *src, uint32_t out_width, uint32_t out_height,
                       uint8_t *dst)
{
    axis_map xmap = {0}, ymap = {0};
    float *row = NULL, *acc = NULL;
    int ret = -1;

    if (axis_map_init(&xmap, src->width, out_width) != 0 ||
        axis_map_init(&ymap, src->height, out_height) != 0)
        goto out;
    row = malloc((size_t)out_width * 4 * sizeof *row);
    acc = malloc((size_t)out_width * 4 * sizeof *acc);
    if (!row || !acc)
        goto out;

    for (uint32_t y = 0; y < out_height; y++) {
        memset(acc, 0, (size_t)out_width * 4 * sizeof *acc);
        const float *wy = ymap.weights + ymap.weight_at[y];
        /* A source row shared by two destination rows is scaled twice;
         * that costs at most one extra row per destination row. */
        for (uint32_t k = 0; k < ymap.count[y]; k++) {
            if (scale_row(src, ymap.first[y] + k, &xmap, out_width, row) != 0) {
                ret = -2;
                goto out;
            }
            for (size_t i = 0; i < (size_t)out_width * 4; i++)
                acc[i] += wy[k] * row[i];
        }
        uint8_t *out = dst + (size_t)y * out_width * src->channels;
        for (uint32_t x = 0; x < out_width; x++) {
            const float *p = acc + (size_t)x * 4;
            float a = p[3];
            float inv = a > 0.0f ? 1.0f / a : 0.0f;
            for (unsigned c = 0; c < 3; c++)
                out[(size_t)x * src->channels + c] = to_u8(p[c] * inv);
            if (src->channels == 4)
                out[(size_t)x * 4 + 3] = to_u8(a);
        }
    }
    ret = 0;
out:
    axis_map_free(&xmap);
    axis_map_free(&ymap);
    free(row);
    free(acc);
    return ret;
}

/* ---- PNG output --------------------------------------------------------- */

static int write_png(FILE *fp, const uint8_t *pixels, uint32_t width, uint32_t height,
                     unsigned channels)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png)
        return -1;
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    rows = malloc((size_t)height * sizeof *rows);
    if (!rows || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        return -1;
    }
    png_init_io(png, fp);
    /* Thumbnails are read often and written once; speed over size. */
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, width, height, 8,
                 channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (uint32_t y = 0; y < height; y++)
        rows[y] = (png_bytep)(pixels + (size_t)y * width * channels);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return 0;
}

/* Writes the PNG through the library's atomic writer: beside `path`,
 * synced and renamed into place. A killed thumbnailer leaves nothing (an
 * unnamed file) or a hidden .NAME.raiiaf-tmp-PID-... file that the next
 * run in that folder removes. */
static int write_png_file(const char *path, const uint8_t *pixels, uint32_t width,
                          uint32_t height, unsigned channels)
{
    raiiaf_output *out = raiiaf_output_new();
    if (!out) {
        fail("out of memory", NULL);
        return -1;
    }
    int ok = raiiaf_output_open(out, path, 0) == RAIIAF_OK;
    /* stdio on a duplicate: fclose() closes only that. */
    int fd = ok ? dup(raiiaf_output_fd(out)) : -1;
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (ok && !fp) {
        fail(path, strerror(errno));
        if (fd >= 0)
            close(fd);
        raiiaf_output_free(out);
        return -1;
    }
    if (ok) {
        ok = write_png(fp, pixels, width, height, channels) == 0;
        if (!ok)
            fail(path, "PNG encoding failed");
        if (fflush(fp) != 0 && ok) {
            fail(path, strerror(errno));
            ok = 0;
        }
        if (fclose(fp) != 0 && ok) {
            fail(path, strerror(errno));
            ok = 0;
        }
        if (ok && raiiaf_output_commit(out) != RAIIAF_OK) {
            fail(raiiaf_output_message(out), NULL);
            ok = 0;
        }
    } else {
        fail(raiiaf_output_message(out), NULL);
    }
    raiiaf_output_free(out);
    return ok ? 0 : -1;
}

/* ---- Main ------------------------------------------------------------------ */

static int parse_size(const char *text, uint32_t *size)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > MAX_SIZE)
        return -1;
    *size = (uint32_t)v;
    return 0;
}

/* The context's message names the record and the fault (as the raiiaf
 * tool prints them). */
static int library_error(raiiaf_ctx *ctx, const char *path, int err)
{
    (void)err;
    fprintf(stderr, "%s: %s: %s\n", program_name, path, raiiaf_ctx_message(ctx));
    return 1;
}

static void fit_within(uint32_t width, uint32_t height, uint32_t size, uint32_t *out_width,
                       uint32_t *out_height)
{
    if (width <= size && height <= size) {
        *out_width = width;
        *out_height = height;
    } else if (width >= height) {
        *out_width = size;
        *out_height = (uint32_t)(((uint64_t)height * size + width / 2) / width);
    } else {
        *out_height = size;
        *out_width = (uint32_t)(((uint64_t)width * size + height / 2) / height);
    }
    if (*out_width < 1)
        *out_width = 1;
    if (*out_height < 1)
        *out_height = 1;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"size", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    uint32_t size = DEFAULT_SIZE;
    int opt;

    while ((opt = getopt_long(argc, argv, "s:hV", long_options, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (parse_size(optarg, &size) != 0) {
                fprintf(stderr, "%s: invalid size '%s' (expected 1-%d)\n", program_name,
                        optarg, MAX_SIZE);
                return 1;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("%s %s (libraiiaf %s)\n", program_name, RAIIAF_VERSION_STRING,
                   raiiaf_version_string());
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 1;
    }
    const char *input = argv[optind], *output = argv[optind + 1];

    raiiaf_ctx *ctx = raiiaf_ctx_new();
    if (!ctx) {
        fail("out of memory", NULL);
        return 1;
    }
    raiiaf_limits limits;
    raiiaf_limits_default(&limits);
    if (limits.max_image_pixels > MAX_SOURCE_PIXELS)
        limits.max_image_pixels = MAX_SOURCE_PIXELS;

    int status = 1;
    uint8_t *decoded = NULL, *scaled = NULL, *src_row = NULL;
    raiiaf_image_info info;
    int err = raiiaf_ctx_set_limits(ctx, &limits);
    if (err == RAIIAF_OK)
        err = raiiaf_ctx_set_row_buffer_limit(ctx, MAX_ROW_BUFFER);
    if (err == RAIIAF_OK)
        err = raiiaf_open_file(ctx, input);
    if (err == RAIIAF_OK)
        err = raiiaf_get_image_info(ctx, &info);
    if (err != RAIIAF_OK) {
        status = library_error(ctx, input, err);
        goto out;
    }
    /* Keep alpha only when the image has some, and decode 16-bit images
     * in 16 bits so that the averaging rounds once, at the end. */
    int has_alpha = info.format == RAIIAF_FMT_GA8 || info.format == RAIIAF_FMT_RGBA8 ||
                    info.format == RAIIAF_FMT_GA16 || info.format == RAIIAF_FMT_RGBA16;
    int sixteen = info.format >= RAIIAF_FMT_G16;
    int format = sixteen ? (has_alpha ? RAIIAF_FMT_RGBA16 : RAIIAF_FMT_RGB16)
                         : (has_alpha ? RAIIAF_FMT_RGBA8 : RAIIAF_FMT_RGB8);
    source_image src = {NULL, ctx, NULL, 0, info.width, info.height, has_alpha ? 4u : 3u, sixteen};
    /* Row by row keeps memory to a few rows; an interlaced PNG can only be
     * decoded whole. */
    err = raiiaf_decode_rows_begin(ctx, format);
    if (err == RAIIAF_OK) {
        if (!(src_row = malloc(source_row_bytes(&src))))
            err = RAIIAF_ENOMEM;
        src.row = src_row;
    } else if (err == RAIIAF_EUNSUPPORTED) {
        size_t decoded_size;
        err = raiiaf_decoded_image_size(ctx, format, &decoded_size);
        if (err == RAIIAF_OK && decoded_size > MAX_INTERLACED_BYTES) {
            fprintf(stderr, "%s: %s: an interlaced %ux%u image takes %zu bytes to decode; "
                    "the thumbnailer's budget is %llu\n", program_name, input,
                    (unsigned)info.width, (unsigned)info.height, decoded_size,
                    (unsigned long long)MAX_INTERLACED_BYTES);
            goto out;
        }
        if (err == RAIIAF_OK && !(decoded = malloc(decoded_size)))
            err = RAIIAF_ENOMEM;
        if (err == RAIIAF_OK)
            err = raiiaf_decode_image(ctx, format, decoded, decoded_size);
        src.pixels = decoded;
    }
    if (err != RAIIAF_OK) {
        status = library_error(ctx, input, err);
        goto out;
    }

    uint32_t out_width, out_height;
    fit_within(info.width, info.height, size, &out_width, &out_height);
    scaled = malloc((size_t)out_width * out_height * src.channels);
    int scaled_ok = scaled ? scale_image(&src, out_width, out_height, scaled) : -1;
    if (scaled_ok == -2) {
        status = library_error(ctx, input, RAIIAF_EPNG);
        goto out;
    }
    if (scaled_ok != 0) {
        fail("out of memory", NULL);
        goto out;
    }
    /* The source is no longer needed: release it before encoding. */
    free(decoded);
    decoded = NULL;
    if (write_png_file(output, scaled, out_width, out_height, src.channels) == 0)
        status = 0;
out:
    free(decoded);
    free(src_row);
    free(scaled);
    raiiaf_ctx_free(ctx);
    return status;
}
