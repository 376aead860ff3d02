/* core-read: time reading an image from a .raiiaf file (raiiaf_open_file +
 * raiiaf_decode_image) or from a PNG with plain libpng, to the same pixel
 * format. Used by bench/core.sh; not installed.
 *
 * SPDX-License-Identifier: MIT
 *
 *   core-read raiiaf FILE.raiiaf [ITERATIONS]
 *   core-read png FILE.png [ITERATIONS]
 *   core-read both FILE.raiiaf FILE.png [ITERATIONS]
 *   core-read none FILE
 *   core-read encode FILE.png [ITERATIONS]
 *
 * "both" alternates the two reads in one process, so that a load that
 * comes and goes on the machine weighs on both alike; it prints a line for
 * each.
 * "encode" reads the PNG's pixels once, then alternates writing them as a
 * PNG with raiiaf_encode_png() (default level) and with plain libpng at its
 * defaults (level 6, adaptive filters), into memory; prints a line for
 * each with the PNG's size.
 * "none" reads nothing: its peak RSS is the process's own baseline (C
 * library, libraiiaf and its libraries mapped), which the script subtracts.
 *
 * Prints one line: mode, iterations, best and median milliseconds, the
 * image size and format, the decoded bytes, and a checksum of the pixels
 * (so that the script can check both paths decode the same thing).
 */
#include <png.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raiiaf.h"

typedef struct decoded {
    uint32_t width, height;
    unsigned channels, bits;
    size_t size;
    uint64_t checksum;
} decoded;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* FNV-1a over the pixels: cheap next to decoding, and not timed. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

static unsigned format_channels(int format)
{
    switch (format) {
    case RAIIAF_FMT_G8: case RAIIAF_FMT_G16: return 1;
    case RAIIAF_FMT_GA8: case RAIIAF_FMT_GA16: return 2;
    case RAIIAF_FMT_RGB8: case RAIIAF_FMT_RGB16: return 3;
    default: return 4;
    }
}

static int read_raiiaf(const char *path, decoded *out, unsigned char **keep)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    raiiaf_image_info ii;
    size_t size = 0;
    unsigned char *pixels = NULL;
    int rc = ctx ? raiiaf_open_file(ctx, path) : RAIIAF_ENOMEM;
    if (rc == RAIIAF_OK)
        rc = raiiaf_get_image_info(ctx, &ii);
    if (rc == RAIIAF_OK)
        rc = raiiaf_decoded_image_size(ctx, ii.format, &size);
    if (rc == RAIIAF_OK && !(pixels = malloc(size)))
        rc = RAIIAF_ENOMEM;
    if (rc == RAIIAF_OK)
        rc = raiiaf_decode_image(ctx, ii.format, pixels, size);
    if (rc != RAIIAF_OK) {
        fprintf(stderr, "core-read: %s: %s\n", path, ctx ? raiiaf_ctx_message(ctx) : "out of memory");
        free(pixels);
        raiiaf_ctx_free(ctx);
        return -1;
    }
    out->width = ii.width;
    out->height = ii.height;
    out->channels = format_channels(ii.format);
    out->bits = ii.format >= RAIIAF_FMT_G16 ? 16 : 8;
    out->size = size;
    raiiaf_ctx_free(ctx);
    *keep = pixels;
    return 0;
}

/* Plain libpng, with the transformations that give the format
 * raiiaf_decode_image() uses for "everything the PNG holds": palette and
 * low depths expanded, tRNS as alpha, 16-bit samples in host order. */
static int read_png(const char *path, decoded *out, unsigned char **keep)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "core-read: %s: libpng failed\n", path);
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        fclose(fp);
        return -1;
    }
    png_init_io(png, fp);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_set_expand(png); /* palette -> RGB, grey < 8 -> 8, tRNS -> alpha */
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe == 1)
        png_set_swap(png);
    int passes = png_set_interlace_handling(png);
    (void)passes;
    png_read_update_info(png, info);
    uint32_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    out->width = width;
    out->height = height;
    out->channels = png_get_channels(png, info);
    out->bits = png_get_bit_depth(png, info);
    out->size = rowbytes * height;
    pixels = malloc(out->size);
    rows = malloc(height * sizeof *rows);
    if (!pixels || !rows)
        png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++)
        rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    fclose(fp);
    *keep = pixels;
    return 0;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct membuf {
    unsigned char *data;
    size_t size;
} membuf;

static void mem_write(png_structp png, png_bytep data, size_t n)
{
    membuf *m = png_get_io_ptr(png);
    unsigned char *p = realloc(m->data, m->size + n);
    if (!p)
        png_error(png, "out of memory");
    memcpy(p + m->size, data, n);
    m->data = p;
    m->size += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

/* Plain libpng at its defaults; returns the PNG's size, 0 on failure. */
static size_t write_png(const decoded *d, const unsigned char *pixels)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.data);
        return 0;
    }
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGBA};
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, d->width, d->height, (int)d->bits, types[d->channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const uint16_t probe = 1;
    if (d->bits == 16 && *(const uint8_t *)&probe == 1)
        png_set_swap(png);
    size_t stride = (size_t)d->width * d->channels * (d->bits / 8);
    for (uint32_t y = 0; y < d->height; y++)
        png_write_row(png, pixels + (size_t)y * stride);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(m.data);
    return m.size;
}

/* raiiaf_encode_png at the default level; the PNG's size, 0 on failure. */
static size_t write_raiiaf(const decoded *d, const unsigned char *pixels)
{
    static const int formats[2][5] = {
        {0, RAIIAF_FMT_G8, RAIIAF_FMT_GA8, RAIIAF_FMT_RGB8, RAIIAF_FMT_RGBA8},
        {0, RAIIAF_FMT_G16, RAIIAF_FMT_GA16, RAIIAF_FMT_RGB16, RAIIAF_FMT_RGBA16}};
    raiiaf_pixels px = {.width = d->width, .height = d->height,
                        .format = formats[d->bits == 16][d->channels], .data = pixels};
    void *png = NULL;
    size_t size = 0;
    if (raiiaf_encode_png(&px, -1, NULL, &png, &size, NULL, 0) != RAIIAF_OK)
        return 0;
    free(png);
    return size;
}

static int encode(const char *path, int iterations)
{
    decoded d = {0};
    unsigned char *pixels = NULL;
    if (read_png(path, &d, &pixels) != 0)
        return 1;
    double *t[2] = {calloc((size_t)iterations, sizeof(double)),
                    calloc((size_t)iterations, sizeof(double))};
    size_t sizes[2] = {0, 0};
    for (int i = 0; i < iterations && t[0] && t[1]; i++)
        for (int k = 0; k < 2; k++) {
            double t0 = now_ms();
            sizes[k] = k == 0 ? write_raiiaf(&d, pixels) : write_png(&d, pixels);
            t[k][i] = now_ms() - t0;
        }
    int rc = 0;
    for (int k = 0; k < 2 && t[k]; k++) {
        qsort(t[k], (size_t)iterations, sizeof(double), compare_double);
        printf("mode=%s iterations=%d best_ms=%.3f median_ms=%.3f png_bytes=%zu\n",
               k == 0 ? "encode-raiiaf" : "encode-png", iterations, t[k][0],
               t[k][iterations / 2], sizes[k]);
        rc |= sizes[k] == 0;
    }
    free(t[0]);
    free(t[1]);
    free(pixels);
    return rc;
}


typedef struct series {
    const char *mode;
    const char *path;
    double *times;
    decoded d;
} series;

static int run_once(series *s, int i)
{
    unsigned char *pixels = NULL;
    double t0 = now_ms();
    int rc = strcmp(s->mode, "raiiaf") == 0 ? read_raiiaf(s->path, &s->d, &pixels)
                                             : read_png(s->path, &s->d, &pixels);
    s->times[i] = now_ms() - t0;
    if (rc != 0)
        return -1;
    if (i == 0)
        s->d.checksum = checksum(pixels, s->d.size);
    free(pixels);
    return 0;
}

static void report(series *s, int iterations)
{
    qsort(s->times, (size_t)iterations, sizeof *s->times, compare_double);
    printf("mode=%s iterations=%d best_ms=%.3f median_ms=%.3f width=%u height=%u channels=%u bits=%u "
           "decoded_bytes=%zu checksum=%016llx\n",
           s->mode, iterations, s->times[0], s->times[iterations / 2], s->d.width, s->d.height,
           s->d.channels, s->d.bits, s->d.size, (unsigned long long)s->d.checksum);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "encode") == 0 && (argc == 3 || argc == 4))
        return encode(argv[2], argc == 4 ? atoi(argv[3]) > 0 ? atoi(argv[3]) : 1 : 5);
    bool both = strcmp(mode, "both") == 0;
    int files = both ? 2 : 1;
    if (argc < 2 + files || argc > 3 + files ||
        (!both && strcmp(mode, "raiiaf") != 0 && strcmp(mode, "png") != 0 && strcmp(mode, "none") != 0)) {
        fprintf(stderr, "usage: core-read raiiaf|png|none FILE [ITERATIONS]\n"
                        "       core-read both FILE.raiiaf FILE.png [ITERATIONS]\n"
                        "       core-read encode FILE.png [ITERATIONS]\n");
        return 2;
    }
    if (strcmp(mode, "none") == 0) {
        /* Touch both libraries so that they are loaded as in the real runs. */
        printf("mode=none libraiiaf=%s libpng=%s\n", raiiaf_version_string(), png_get_libpng_ver(NULL));
        return 0;
    }
    int iterations = argc == 3 + files ? atoi(argv[2 + files]) : 1;
    if (iterations < 1 || iterations > 10000)
        iterations = 1;
    series s[2] = {
        {both ? "raiiaf" : mode, argv[2], NULL, {0}},
        {"png", both ? argv[3] : NULL, NULL, {0}},
    };
    int status = 0;
    for (int k = 0; k < files; k++) {
        s[k].times = malloc((size_t)iterations * sizeof *s[k].times);
        if (!s[k].times)
            status = 1;
    }
    for (int i = 0; i < iterations && status == 0; i++) {
        for (int k = 0; k < files && status == 0; k++) {
            if (run_once(&s[k], i) != 0)
                status = 1;
        }
    }
    for (int k = 0; k < files; k++) {
        if (status == 0)
            report(&s[k], iterations);
        free(s[k].times);
    }
    return status;
}
