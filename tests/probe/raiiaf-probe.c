/* Test helper of the host plug-in tests (ImageMagick, GIMP): what
 * libraiiaf itself says about a .raiiaf file, independently of the host.
 *
 *   raiiaf-probe verify FILE       check every payload; exit 1 with the
 *                                  library's message on failure
 *   raiiaf-probe dump FILE DIR     write into DIR (which must exist):
 *       image.png         the embedded image bytes as stored
 *       manifest.json     the manifest as stored
 *       environment.json  the environment as stored (when there is one)
 *       parameters.txt    raiiaf_get_parameters_text()
 *       latent-N.stored   raiiaf_get_latent_stored() blob of latent N
 *       latent-N.bin      latent N decoded (C order, host order, stored dtype)
 *       info.json         text pairs, parameters text, latent and image info
 *   raiiaf-probe text FILE KEY     prints raiiaf_find_text(KEY); exit 1 when
 *                                  absent
 *   raiiaf-probe error FILE        opens, decodes the image and verifies, as
 *                                  a host's load does; prints the library's
 *                                  message of the first failure (exit 0), or
 *                                  nothing (exit 1) for a good file
 *   raiiaf-probe pixels FILE OUT   writes OUT: "WIDTH HEIGHT FORMAT\n", then
 *                                  the image decoded in its own format
 *   raiiaf-probe rgba16 FILE OUT   writes OUT: the image decoded as RGBA16
 *                                  (host order); prints one JSON line of
 *                                  image info, raiiaf_get_png_colour() and
 *                                  raiiaf_get_png_physical()
 *   raiiaf-probe grey-rgb-icc FILE OUT
 *                                  writes OUT: a small grey image carrying
 *                                  FILE's (RGB) ICC profile, a mismatch a
 *                                  host must survive
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raiiaf.h>

static int fail(raiiaf_ctx *ctx, int err, const char *what)
{
    fprintf(stderr, "raiiaf-probe: %s: %s (%s)\n", what, raiiaf_strerror(err),
            ctx ? raiiaf_ctx_message(ctx) : "");
    return 1;
}

static int write_bytes(const char *dir, const char *name, const void *data, size_t size)
{
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return 0;
    }
    ok = (size == 0 || fwrite(data, 1, size, f) == size);
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        perror(path);
    return ok;
}

/* Writes s as a JSON string (UTF-8 passes through). */
static void json_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *) s;

    fputc('"', f);
    for (; *p != '\0'; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static int dump(raiiaf_ctx *ctx, const char *dir)
{
    const char *json, *parameters;
    const void *png;
    size_t size, count, i;
    raiiaf_image_info image;
    char path[4096];
    FILE *info;
    int err;

    if ((err = raiiaf_get_image_data(ctx, &png, &size)) != RAIIAF_OK)
        return fail(ctx, err, "image data");
    if (!write_bytes(dir, "image.png", png, size))
        return 1;
    if ((err = raiiaf_get_manifest_json(ctx, &json, &size)) != RAIIAF_OK)
        return fail(ctx, err, "manifest");
    if (!write_bytes(dir, "manifest.json", json, size))
        return 1;
    if ((err = raiiaf_get_env_json(ctx, &json, &size)) != RAIIAF_OK)
        return fail(ctx, err, "environment");
    if (json != NULL && !write_bytes(dir, "environment.json", json, size))
        return 1;

    snprintf(path, sizeof path, "%s/info.json", dir);
    info = fopen(path, "w");
    if (info == NULL) {
        perror(path);
        return 1;
    }
    fputs("{\n \"text\": [", info);
    if ((err = raiiaf_get_text_count(ctx, &count)) != RAIIAF_OK)
        return fail(ctx, err, "text count");
    for (i = 0; i < count; i++) {
        const char *key, *value;
        if ((err = raiiaf_get_text(ctx, i, &key, &value)) != RAIIAF_OK)
            return fail(ctx, err, "text");
        fputs(i ? ",\n  [" : "\n  [", info);
        json_string(info, key);
        fputs(", ", info);
        json_string(info, value);
        fputs("]", info);
    }
    fputs("],\n \"parameters\": ", info);
    if ((err = raiiaf_get_parameters_text(ctx, &parameters)) != RAIIAF_OK)
        return fail(ctx, err, "parameters");
    json_string(info, parameters);
    if (!write_bytes(dir, "parameters.txt", parameters, strlen(parameters)))
        return 1;

    fputs(",\n \"latents\": [", info);
    if ((err = raiiaf_get_latent_count(ctx, &count)) != RAIIAF_OK)
        return fail(ctx, err, "latent count");
    for (i = 0; i < count; i++) {
        raiiaf_latent_info latent;
        void *blob, *decoded;
        size_t blob_size;
        char name[64];
        unsigned d;

        if ((err = raiiaf_get_latent_info(ctx, i, &latent)) != RAIIAF_OK)
            return fail(ctx, err, "latent info");
        fputs(i ? ",\n  {\"key\": " : "\n  {\"key\": ", info);
        json_string(info, latent.key);
        fprintf(info, ", \"dtype\": %d, \"storage\": %d, \"shape\": [", latent.dtype,
                latent.storage);
        for (d = 0; d < latent.ndim; d++)
            fprintf(info, d ? ", %llu" : "%llu", (unsigned long long) latent.shape[d]);
        fprintf(info, "], \"stored_size\": %llu}", (unsigned long long) latent.stored_size);

        if ((err = raiiaf_get_latent_stored(ctx, i, &blob, &blob_size)) != RAIIAF_OK)
            return fail(ctx, err, "latent stored");
        snprintf(name, sizeof name, "latent-%zu.stored", i);
        if (!write_bytes(dir, name, blob, blob_size))
            return 1;
        raiiaf_free(blob);
        decoded = malloc(latent.decoded_size ? (size_t) latent.decoded_size : 1);
        if (decoded == NULL)
            return fail(ctx, RAIIAF_ENOMEM, "latent");
        if ((err = raiiaf_decode_latent(ctx, i, decoded, (size_t) latent.decoded_size)) != RAIIAF_OK)
            return fail(ctx, err, "latent decode");
        snprintf(name, sizeof name, "latent-%zu.bin", i);
        if (!write_bytes(dir, name, decoded, (size_t) latent.decoded_size))
            return 1;
        free(decoded);
    }
    fputs("],\n", info);
    if ((err = raiiaf_get_image_info(ctx, &image)) != RAIIAF_OK)
        return fail(ctx, err, "image info");
    fprintf(info,
            " \"image\": {\"width\": %u, \"height\": %u, \"format\": %d, \"bit_depth\": %d,"
            " \"color_type\": %d, \"has_icc\": %d}\n}\n",
            image.width, image.height, image.format, image.png_bit_depth, image.png_color_type,
            image.has_icc);
    if (fclose(info) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

/* The calls a host's load makes, in its order; the first failure's
 * message is what the host must show. */
static int first_error(raiiaf_ctx *ctx, const char *path)
{
    raiiaf_image_info info;
    size_t size;
    void *pixels;
    int err;

    if ((err = raiiaf_open_file(ctx, path)) != RAIIAF_OK ||
        (err = raiiaf_get_image_info(ctx, &info)) != RAIIAF_OK ||
        (err = raiiaf_decoded_image_size(ctx, info.format, &size)) != RAIIAF_OK)
        goto report;
    pixels = malloc(size);
    if (pixels == NULL)
        return fail(NULL, RAIIAF_ENOMEM, "pixels");
    err = raiiaf_decode_image(ctx, info.format, pixels, size);
    free(pixels);
    if (err != RAIIAF_OK || (err = raiiaf_verify(ctx)) != RAIIAF_OK)
        goto report;
    return 1;
report:
    printf("%s\n", raiiaf_ctx_message(ctx));
    return 0;
}

static int write_pixels(raiiaf_ctx *ctx, const char *out)
{
    raiiaf_image_info info;
    size_t size;
    void *pixels;
    FILE *f;
    int err, ok;

    if ((err = raiiaf_get_image_info(ctx, &info)) != RAIIAF_OK ||
        (err = raiiaf_decoded_image_size(ctx, info.format, &size)) != RAIIAF_OK)
        return fail(ctx, err, "image");
    pixels = malloc(size);
    if (pixels == NULL)
        return fail(NULL, RAIIAF_ENOMEM, "pixels");
    if ((err = raiiaf_decode_image(ctx, info.format, pixels, size)) != RAIIAF_OK) {
        free(pixels);
        return fail(ctx, err, "decode");
    }
    f = fopen(out, "wb");
    ok = f != NULL && fprintf(f, "%u %u %d\n", info.width, info.height, info.format) > 0 &&
         fwrite(pixels, 1, size, f) == size;
    ok = (f != NULL && fclose(f) == 0) && ok;
    free(pixels);
    if (!ok)
        perror(out);
    return !ok;
}

static int grey_with_rgb_icc(raiiaf_ctx *ctx, const char *out)
{
    static uint8_t grey[16 * 8];
    raiiaf_pixels px = {.width = 16, .height = 8, .format = RAIIAF_FMT_G8, .data = grey};
    raiiaf_writer *w;
    size_t i;
    int err;

    for (i = 0; i < sizeof grey; i++)
        grey[i] = (uint8_t) (i * 2);
    if ((err = raiiaf_get_icc_profile(ctx, &px.icc, &px.icc_size, &px.icc_name)) != RAIIAF_OK)
        return fail(ctx, err, "icc");
    w = raiiaf_writer_new();
    if (w == NULL)
        return fail(NULL, RAIIAF_ENOMEM, "writer");
    err = raiiaf_writer_set_image_pixels(w, &px, -1);
    if (err == RAIIAF_OK)
        err = raiiaf_writer_write_file(w, out);
    if (err != RAIIAF_OK)
        fprintf(stderr, "raiiaf-probe: %s: %s\n", out, raiiaf_writer_message(w));
    raiiaf_writer_free(w);
    return err != RAIIAF_OK;
}

/* The library's decode of the image and what it says of the PNG's colours:
 * for the PngSuite test, which compares them with another decoder's. */
static int rgba16(raiiaf_ctx *ctx, const char *out)
{
    raiiaf_image_info info;
    raiiaf_png_colour c;
    raiiaf_png_physical phys;
    size_t size;
    uint8_t *px;
    int err = raiiaf_get_image_info(ctx, &info);

    if (err == RAIIAF_OK)
        err = raiiaf_get_png_colour(ctx, &c);
    if (err == RAIIAF_OK)
        err = raiiaf_get_png_physical(ctx, &phys);
    if (err == RAIIAF_OK)
        err = raiiaf_decoded_image_size(ctx, RAIIAF_FMT_RGBA16, &size);
    if (err != RAIIAF_OK)
        return fail(ctx, err, "image");
    px = malloc(size);
    if (px == NULL)
        return fail(ctx, RAIIAF_ENOMEM, "pixels");
    err = raiiaf_decode_image(ctx, RAIIAF_FMT_RGBA16, px, size);
    FILE *f = err == RAIIAF_OK ? fopen(out, "wb") : NULL;
    int ok = f && fwrite(px, 1, size, f) == size;
    ok = f && fclose(f) == 0 && ok;
    free(px);
    if (!ok)
        return fail(ctx, err, out);
    printf("{\"width\": %u, \"height\": %u, \"format\": %d, \"bit_depth\": %d, "
           "\"color_type\": %d, \"interlaced\": %d, \"palette\": [",
           info.width, info.height, info.format, info.png_bit_depth, info.png_color_type,
           info.interlaced);
    for (unsigned i = 0; i < c.palette_count; i++)
        printf("%s%u, %u, %u", i ? ", " : "", c.palette[i][0], c.palette[i][1], c.palette[i][2]);
    printf("], \"palette_alpha\": [");
    for (unsigned i = 0; i < c.palette_alpha_count; i++)
        printf("%s%u", i ? ", " : "", c.palette_alpha[i]);
    printf("], \"trns\": %s", c.has_trns_value ? "[" : "null");
    if (c.has_trns_value)
        printf("%u, %u, %u, %u]", c.trns_gray, c.trns_red, c.trns_green, c.trns_blue);
    printf(", \"gamma\": ");
    printf(c.has_gamma ? "%.5f" : "null", c.gamma);
    printf(", \"chrm\": ");
    if (c.has_chromaticities)
        printf("[%.5f, %.5f, %.5f, %.5f, %.5f, %.5f, %.5f, %.5f]", c.white_x, c.white_y, c.red_x,
               c.red_y, c.green_x, c.green_y, c.blue_x, c.blue_y);
    else
        printf("null");
    printf(", \"srgb\": %d, \"icc\": %d, \"sbit\": ", c.srgb_intent, c.has_icc);
    if (c.has_sbit)
        printf("[%u, %u, %u, %u, %u]", c.sbit_gray, c.sbit_red, c.sbit_green, c.sbit_blue,
               c.sbit_alpha);
    else
        printf("null");
    printf(", \"bkgd\": ");
    if (c.has_background)
        printf("[%u, %u, %u, %u, %u]", c.background_index, c.background_gray, c.background_red,
               c.background_green, c.background_blue);
    else
        printf("null");
    printf(", \"phys\": ");
    if (phys.has_phys)
        printf("[%u, %u, %d]", phys.phys_x, phys.phys_y, phys.phys_unit);
    else
        printf("null");
    printf(", \"offs\": ");
    if (phys.has_offset)
        printf("[%d, %d, %d]", phys.offset_x, phys.offset_y, phys.offset_unit);
    else
        printf("null");
    printf("}\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    raiiaf_ctx *ctx;
    int err, status;
    int four = !strcmp(cmd, "dump") || !strcmp(cmd, "text") || !strcmp(cmd, "grey-rgb-icc") ||
               !strcmp(cmd, "pixels") || !strcmp(cmd, "rgba16");
    int three = !strcmp(cmd, "verify") || !strcmp(cmd, "error");

    if (!((four && argc == 4) || (three && argc == 3))) {
        fprintf(stderr, "usage: raiiaf-probe verify FILE | dump FILE DIR | text FILE KEY |\n"
                        "                    error FILE | pixels FILE OUT | grey-rgb-icc FILE OUT |\n"
                        "                    rgba16 FILE OUT\n");
        return 2;
    }
    ctx = raiiaf_ctx_new();
    if (ctx == NULL)
        return 1;
    if (!strcmp(cmd, "error")) {
        status = first_error(ctx, argv[2]);
        raiiaf_ctx_free(ctx);
        return status;
    }
    err = raiiaf_open_file(ctx, argv[2]);
    if (err != RAIIAF_OK) {
        status = fail(ctx, err, argv[2]);
    } else if (!strcmp(cmd, "verify")) {
        status = (err = raiiaf_verify(ctx)) == RAIIAF_OK ? 0 : fail(ctx, err, argv[2]);
    } else if (!strcmp(cmd, "dump")) {
        status = dump(ctx, argv[3]);
    } else if (!strcmp(cmd, "text")) {
        const char *value = raiiaf_find_text(ctx, argv[3]);
        if (value != NULL)
            printf("%s\n", value);
        status = value == NULL;
    } else if (!strcmp(cmd, "pixels")) {
        status = write_pixels(ctx, argv[3]);
    } else if (!strcmp(cmd, "rgba16")) {
        status = rgba16(ctx, argv[3]);
    } else {
        status = grey_with_rgb_icc(ctx, argv[3]);
    }
    raiiaf_ctx_free(ctx);
    return status;
}
