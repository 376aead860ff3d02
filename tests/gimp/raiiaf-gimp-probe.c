/* raiiaf-gimp-probe: what the library says about a .raiiaf file, in a
 * shape the GIMP tests can compare against what GIMP shows.
 *
 * SPDX-License-Identifier: MIT
 *
 *   raiiaf-gimp-probe dump FILE DIR
 *       DIR/image.png        embedded image bytes, as stored
 *       DIR/manifest.json    manifest bytes, as stored
 *       DIR/environment.json environment bytes (absent without ENVC)
 *       DIR/parameters.txt   raiiaf_get_parameters_text()
 *       DIR/latent-N.blob    raiiaf_get_latent_stored() of latent N
 *       DIR/latent-N.raw     raiiaf_decode_latent() of latent N
 *       DIR/info.txt         "key value" lines: width, height, format,
 *                            png_bit_depth, png_color_type, has_icc,
 *                            latent_count, latent-N-key
 *   raiiaf-gimp-probe verify FILE     exit 0 when raiiaf_verify() passes
 *   raiiaf-gimp-probe text FILE KEY   prints raiiaf_find_text(KEY), exit 1
 *                                     when absent
 *   raiiaf-gimp-probe grey-rgb-icc FILE OUT
 *                                     writes OUT: a small grey image carrying
 *                                     FILE's (RGB) ICC profile, a mismatch
 *                                     GIMP must survive
 *   raiiaf-gimp-probe error FILE      opens, verifies and decodes the image
 *                                     as the plug-in would; prints the
 *                                     library's message of the first failure
 *                                     (exit 0), or nothing (exit 1) when the
 *                                     file is good
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raiiaf.h>

static int
fail (raiiaf_ctx *ctx, int err, const char *what)
{
    fprintf (stderr, "raiiaf-gimp-probe: %s: %s (%s)\n", what,
             raiiaf_strerror (err), ctx ? raiiaf_ctx_message (ctx) : "");
    return 1;
}

static int
write_file (const char *dir, const char *name, const void *data, size_t size)
{
    char  path[4096];
    FILE *f;

    snprintf (path, sizeof path, "%s/%s", dir, name);
    f = fopen (path, "wb");
    if (!f || (size && fwrite (data, 1, size, f) != size) || fclose (f) != 0) {
        fprintf (stderr, "raiiaf-gimp-probe: %s: %s\n", path, strerror (errno));
        return 1;
    }
    return 0;
}

static int
dump (raiiaf_ctx *ctx, const char *dir)
{
    raiiaf_image_info info;
    const void *data;
    const char *json, *text;
    size_t size, count;
    char name[64];
    FILE *f;
    int err;

    if ((err = raiiaf_get_image_info (ctx, &info)))
        return fail (ctx, err, "image info");
    if ((err = raiiaf_get_image_data (ctx, &data, &size)))
        return fail (ctx, err, "image data");
    if (write_file (dir, "image.png", data, size))
        return 1;
    if ((err = raiiaf_get_manifest_json (ctx, &json, &size)))
        return fail (ctx, err, "manifest");
    if (write_file (dir, "manifest.json", json, size))
        return 1;
    if ((err = raiiaf_get_env_json (ctx, &json, &size)))
        return fail (ctx, err, "environment");
    if (json && write_file (dir, "environment.json", json, size))
        return 1;
    if ((err = raiiaf_get_parameters_text (ctx, &text)))
        return fail (ctx, err, "parameters");
    if (write_file (dir, "parameters.txt", text, strlen (text)))
        return 1;
    if ((err = raiiaf_get_latent_count (ctx, &count)))
        return fail (ctx, err, "latent count");

    {
        char path[4096];

        snprintf (path, sizeof path, "%s/info.txt", dir);
        f = fopen (path, "w");
        if (!f)
            return fail (NULL, RAIIAF_EIO, path);
    }
    fprintf (f, "width %u\nheight %u\nformat %d\npng_bit_depth %d\n"
             "png_color_type %d\nhas_icc %d\nlatent_count %zu\n",
             info.width, info.height, info.format, info.png_bit_depth,
             info.png_color_type, info.has_icc, count);

    for (size_t i = 0; i < count; i++) {
        raiiaf_latent_info li;
        void *blob, *raw;
        size_t blob_size;

        if ((err = raiiaf_get_latent_info (ctx, i, &li)))
            return fail (ctx, err, "latent info");
        fprintf (f, "latent-%zu-key %s\n", i, li.key);
        if ((err = raiiaf_get_latent_stored (ctx, i, &blob, &blob_size)))
            return fail (ctx, err, "latent stored");
        snprintf (name, sizeof name, "latent-%zu.blob", i);
        err = write_file (dir, name, blob, blob_size);
        raiiaf_free (blob);
        if (err)
            return 1;
        raw = malloc (li.decoded_size ? li.decoded_size : 1);
        if (!raw)
            return fail (NULL, RAIIAF_ENOMEM, "latent");
        if ((err = raiiaf_decode_latent (ctx, i, raw, li.decoded_size))) {
            free (raw);
            return fail (ctx, err, "latent decode");
        }
        snprintf (name, sizeof name, "latent-%zu.raw", i);
        err = write_file (dir, name, raw, li.decoded_size);
        free (raw);
        if (err)
            return 1;
    }
    return fclose (f) != 0;
}

/* The same calls, in the same order, as the plug-in's load. */
static int
first_error (raiiaf_ctx *ctx, const char *path)
{
    raiiaf_image_info info;
    size_t size;
    void *pixels;
    int err;

    if ((err = raiiaf_open_file (ctx, path)) ||
        (err = raiiaf_get_image_info (ctx, &info)) ||
        (err = raiiaf_decoded_image_size (ctx, info.format, &size)))
        goto report;
    pixels = malloc (size);
    if (!pixels)
        return fail (NULL, RAIIAF_ENOMEM, "pixels");
    err = raiiaf_decode_image (ctx, info.format, pixels, size);
    free (pixels);
    if (err || (err = raiiaf_verify (ctx)))
        goto report;
    return 1;
report:
    printf ("%s\n", *raiiaf_ctx_message (ctx) ? raiiaf_ctx_message (ctx)
                                               : raiiaf_strerror (err));
    return 0;
}

static int
grey_with_rgb_icc (raiiaf_ctx *ctx, const char *out)
{
    static uint8_t grey[16 * 8];
    raiiaf_pixels px = { 0 };
    raiiaf_writer *w;
    const char *name;
    int err;

    for (size_t i = 0; i < sizeof grey; i++)
        grey[i] = (uint8_t) (i * 2);
    px.width = 16;
    px.height = 8;
    px.format = RAIIAF_FMT_G8;
    px.data = grey;
    if ((err = raiiaf_get_icc_profile (ctx, &px.icc, &px.icc_size, &name)))
        return fail (ctx, err, "icc");
    w = raiiaf_writer_new ();
    if (!w)
        return fail (NULL, RAIIAF_ENOMEM, "writer");
    err = raiiaf_writer_set_image_pixels (w, &px, -1);
    if (!err)
        err = raiiaf_writer_write_file (w, out);
    if (err)
        fprintf (stderr, "raiiaf-gimp-probe: %s: %s\n", out, raiiaf_writer_message (w));
    raiiaf_writer_free (w);
    return err != 0;
}

int
main (int argc, char **argv)
{
    raiiaf_ctx *ctx;
    int err, rc;

    if (argc < 3) {
        fprintf (stderr, "usage: raiiaf-gimp-probe dump FILE DIR | verify FILE | "
                         "text FILE KEY | grey-rgb-icc FILE OUT | error FILE\n");
        return 2;
    }
    ctx = raiiaf_ctx_new ();
    if (!ctx)
        return fail (NULL, RAIIAF_ENOMEM, "context");

    if (!strcmp (argv[1], "error")) {
        rc = first_error (ctx, argv[2]);
        raiiaf_ctx_free (ctx);
        return rc;
    }

    if ((err = raiiaf_open_file (ctx, argv[2]))) {
        rc = fail (ctx, err, argv[2]);
    } else if (!strcmp (argv[1], "dump") && argc == 4) {
        rc = dump (ctx, argv[3]);
    } else if (!strcmp (argv[1], "grey-rgb-icc") && argc == 4) {
        rc = grey_with_rgb_icc (ctx, argv[3]);
    } else if (!strcmp (argv[1], "verify")) {
        rc = (err = raiiaf_verify (ctx)) ? fail (ctx, err, argv[2]) : 0;
    } else if (!strcmp (argv[1], "text") && argc == 4) {
        const char *value = raiiaf_find_text (ctx, argv[3]);
        if (value)
            printf ("%s\n", value);
        rc = value == NULL;
    } else {
        fprintf (stderr, "raiiaf-gimp-probe: bad command\n");
        rc = 2;
    }
    raiiaf_ctx_free (ctx);
    return rc;
}
