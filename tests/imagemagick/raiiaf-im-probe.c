/* Test helper for the ImageMagick coder tests: looks into a .raiiaf file
 * with libraiiaf, independently of ImageMagick.
 *
 *   raiiaf-im-probe verify FILE       check every payload; exit 1 with the
 *                                     library's message on failure
 *   raiiaf-im-probe dump FILE DIR     write into DIR (which must exist):
 *       image.png         the embedded image bytes as stored
 *       manifest.json     the manifest as stored
 *       environment.json  the environment as stored (when there is one)
 *       latent-N.stored   raiiaf_get_latent_stored() blob of latent N
 *       latent-N.bin      latent N decoded (C order, host order, stored dtype)
 *       info.json         text pairs, parameters text, latent and image info
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raiiaf.h>

static int fail(raiiaf_ctx *ctx, int err, const char *what)
{
    fprintf(stderr, "raiiaf-im-probe: %s: %s (%s)\n", what, raiiaf_strerror(err),
            raiiaf_ctx_message(ctx));
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
    json_string(info, parameters != NULL ? parameters : "");

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

int main(int argc, char **argv)
{
    raiiaf_ctx *ctx;
    int err, status;

    if (argc < 3 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "dump") != 0) ||
        (strcmp(argv[1], "dump") == 0 && argc != 4)) {
        fprintf(stderr, "usage: raiiaf-im-probe verify FILE | dump FILE DIR\n");
        return 2;
    }
    ctx = raiiaf_ctx_new();
    if (ctx == NULL)
        return 1;
    err = raiiaf_open_file(ctx, argv[2]);
    if (err != RAIIAF_OK)
        status = fail(ctx, err, argv[2]);
    else if (strcmp(argv[1], "verify") == 0)
        status = (err = raiiaf_verify(ctx)) == RAIIAF_OK ? 0 : fail(ctx, err, argv[2]);
    else
        status = dump(ctx, argv[3]);
    raiiaf_ctx_free(ctx);
    return status;
}
