#include "internal.h"
#include "pngcolour.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <libdeflate.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zfp.h>
#include <zstd.h>

#define RF_ZSTD_LEVEL 3 /* the reference's level, for the image */
/* The JSON chunks are a few KiB: the strongest level costs microseconds
 * and keeps our files at or below the reference's size. */
#define RF_ZSTD_LEVEL_JSON 19

/* A latent as it goes into the file: its record (rec.key points to key;
 * offset is settled when the file is built) and its chunk's bytes. */
typedef struct w_latent {
    rf_record rec;
    char *key;
    uint8_t *bytes;
    json_object *extra; /* kept from a stored record, or NULL */
} w_latent;

struct raiiaf_writer {
    rf_msg msg;
    uint8_t *png;
    size_t png_size;
    w_latent *latents;
    size_t latent_count, latent_cap;
    int recode_storage; /* -1: keep */
    json_object *model_info;
    json_object *extras; /* raiiaf_metadata keys other than file_info, model_info, chunks */
    char *env;
    size_t env_size;
    bool rewrite;        /* the metadata came from an existing file */
    char *sw_name, *sw_version, *sw_action;
};

raiiaf_writer *raiiaf_writer_new(void)
{
    raiiaf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->recode_storage = -1;
    w->model_info = json_object_new_object();
    w->extras = json_object_new_object();
    if (!w->model_info || !w->extras) {
        raiiaf_writer_free(w);
        return NULL;
    }
    return w;
}

static void latent_free(w_latent *l)
{
    free(l->key);
    free(l->bytes);
    json_object_put(l->extra);
    memset(l, 0, sizeof *l);
}

void raiiaf_writer_free(raiiaf_writer *w)
{
    if (!w)
        return;
    free(w->png);
    for (size_t i = 0; i < w->latent_count; i++)
        latent_free(&w->latents[i]);
    free(w->latents);
    json_object_put(w->model_info);
    json_object_put(w->extras);
    free(w->env);
    free(w->sw_name);
    free(w->sw_version);
    free(w->sw_action);
    free(w);
}

const char *raiiaf_writer_message(const raiiaf_writer *w)
{
    return w ? w->msg.text : RF_NO_OBJECT_MESSAGE;
}

/* ---- image ------------------------------------------------------------ */

int raiiaf_writer_set_image_png(raiiaf_writer *w, const void *png, size_t size)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!png || !size)
        return RF_BAD_ARGS(&w->msg);
    if (!rf_is_png(png, size))
        return rf_fail(&w->msg, RAIIAF_ENOTPNG, "the image is not PNG data");
    if (size > UINT32_MAX - RF_INNER_SIZE)
        return rf_fail(&w->msg, RAIIAF_ELIMIT, "the image is larger than a chunk can hold (4 GiB)");
    int err = rf_png_check(png, size, &w->msg); /* no corrupt PNG goes into a file */
    if (err)
        return err;
    uint8_t *copy = malloc(size);
    if (!copy)
        return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    memcpy(copy, png, size);
    free(w->png);
    w->png = copy;
    w->png_size = size;
    return RAIIAF_OK;
}

int raiiaf_writer_set_image_pixels(raiiaf_writer *w, const raiiaf_pixels *px, int level)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!px)
        return RF_BAD_ARGS(&w->msg);
    uint8_t *png;
    size_t size;
    int err = rf_png_encode(px, level, &png, &size, &w->msg);
    if (err)
        return err;
    if (size > UINT32_MAX - RF_INNER_SIZE) {
        free(png);
        return rf_fail(&w->msg, RAIIAF_ELIMIT, "the image is larger than a chunk can hold (4 GiB)");
    }
    free(w->png);
    w->png = png;
    w->png_size = size;
    return RAIIAF_OK;
}

int raiiaf_writer_recompress_image(raiiaf_writer *w, int level)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!w->png)
        return rf_fail(&w->msg, RAIIAF_EINVAL, "no image given to the writer");
    if (level < 0 || level > 9)
        return rf_fail(&w->msg, RAIIAF_EINVAL, "PNG compression level %d (0-9)", level);
    raiiaf_limits limits;
    raiiaf_limits_default(&limits);
    raiiaf_image_info info;
    uint8_t *icc = NULL;
    size_t icc_size = 0;
    char *icc_name = NULL;
    int err = rf_png_info(&(rf_png_in){.data = w->png, .size = w->png_size}, &limits, &info, &icc, &icc_size, &icc_name, &w->msg);
    if (err)
        return err;
    size_t size = (size_t)info.width * info.height * raiiaf_format_pixel_size(info.format);
    void *pixels = malloc(size ? size : 1);
    if (!pixels)
        err = rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory for %zu bytes of pixels", size);
    if (!err)
        err = rf_png_decode(&(rf_png_in){.data = w->png, .size = w->png_size}, &limits, info.format, pixels, size, &w->msg);
    if (!err) {
        raiiaf_pixels px = {.width = info.width, .height = info.height, .format = info.format,
                            .data = pixels, .icc = icc, .icc_size = icc_size, .icc_name = icc_name,
                            .gamma = info.gamma, .has_srgb = info.srgb_intent >= 0,
                            .srgb_intent = info.srgb_intent, .ppm_x = info.ppm_x,
                            .ppm_y = info.ppm_y};
        err = raiiaf_writer_set_image_pixels(w, &px, level);
    }
    free(pixels);
    free(icc);
    free(icc_name);
    return err;
}

/* ---- latents ---------------------------------------------------------- */

static int add_latent_slot(raiiaf_writer *w, const char *key, w_latent **slot)
{
    for (size_t i = 0; i < w->latent_count; i++)
        if (!strcmp(w->latents[i].key, key)) {
            latent_free(&w->latents[i]);
            *slot = &w->latents[i];
            return RAIIAF_OK;
        }
    if (w->latent_count == w->latent_cap) {
        size_t cap = w->latent_cap ? w->latent_cap * 2 : 4;
        w_latent *p = realloc(w->latents, cap * sizeof *p);
        if (!p)
            return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
        w->latents = p;
        w->latent_cap = cap;
    }
    *slot = &w->latents[w->latent_count++];
    memset(*slot, 0, sizeof **slot);
    return RAIIAF_OK;
}

/* What the reference package accepts for a latent it writes. */
static int check_latent_values(raiiaf_writer *w, const char *key, int dtype, const uint64_t *shape,
                               unsigned ndim, const void *data, size_t size)
{
    if (ndim != RF_REF_LATENT_NDIM)
        return rf_fail(&w->msg, RAIIAF_EVALUE,
                       "latent \"%.64s\": %u dimensions; the format takes exactly 4 (N, C, H, W)",
                       key, ndim);
    uint64_t elements = 1;
    for (unsigned i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > RF_REF_LATENT_MAX_DIM)
            return rf_fail(&w->msg, RAIIAF_EVALUE, "latent \"%.64s\": dimension %u is %llu (1..%d)",
                           key, i, (unsigned long long)shape[i], RF_REF_LATENT_MAX_DIM);
        elements *= shape[i];
    }
    if (elements > RF_REF_LATENT_MAX_ELEMENTS)
        return rf_fail(&w->msg, RAIIAF_EVALUE, "latent \"%.64s\": %llu elements (at most 1e8)", key,
                       (unsigned long long)elements);
    size_t esize = rf_dtype(dtype)->size;
    if (size != elements * esize)
        return rf_fail(&w->msg, RAIIAF_EINVAL, "latent \"%.64s\": %zu bytes for %llu elements",
                       key, size, (unsigned long long)elements);
    uint64_t bad = rf_latent_first_nonfinite(dtype, data, elements);
    if (bad < elements)
        return rf_fail(&w->msg, RAIIAF_EVALUE, "latent \"%.64s\": element %llu is NaN or Inf",
                       key, (unsigned long long)bad);
    return RAIIAF_OK;
}

/* Puts a latent into its slot (a latent with the same key is replaced):
 * takes key, bytes and extra, or frees them on failure. */
static int put_latent(raiiaf_writer *w, const rf_record *rec, char *key, uint8_t *bytes,
                      json_object *extra)
{
    w_latent *slot = NULL;
    int err = key ? add_latent_slot(w, key, &slot)
                  : rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    if (err) {
        free(key);
        free(bytes);
        json_object_put(extra);
        return err;
    }
    slot->rec = *rec;
    slot->rec.obj = NULL;
    slot->rec.key = key;
    slot->key = key;
    slot->bytes = bytes;
    slot->extra = extra;
    return RAIIAF_OK;
}

static int store_array_latent(raiiaf_writer *w, const char *key, int dtype, const uint64_t *shape,
                              unsigned ndim, const void *data, size_t size, int storage)
{
    rf_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = RF_LATN;
    rec.dtype = dtype;
    rec.ndim = ndim;
    memcpy(rec.shape, shape, ndim * sizeof *shape);
    rec.uncompressed_size = size;
    /* The hash covers the little-endian bytes. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    size_t esize = rf_dtype(dtype)->size;
    uint8_t *le = malloc(size ? size : 1);
    if (!le)
        return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    memcpy(le, data, size);
    rf_host_to_le(le, size / esize, esize);
    rf_sha256(le, size, rec.hash);
    free(le);
#else
    rf_sha256(data, size, rec.hash);
#endif
    uint8_t *bytes;
    int err = rf_latent_encode(&rec, data, storage, &bytes, &w->msg);
    if (err)
        return err;
    return put_latent(w, &rec, rf_strdup(key), bytes, NULL);
}

int raiiaf_writer_add_latent(raiiaf_writer *w, const char *key, int dtype, const uint64_t *shape,
                             unsigned ndim, const void *data, size_t size, int storage)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!key || !*key || !shape || !data)
        return RF_BAD_ARGS(&w->msg);
    if (!rf_dtype(dtype))
        return rf_fail(&w->msg, RAIIAF_EINVAL, "latent \"%.64s\": unknown dtype %d", key, dtype);
    if (storage < RAIIAF_STORAGE_AUTO || storage > RAIIAF_STORAGE_ZFP)
        return rf_fail(&w->msg, RAIIAF_EINVAL, "latent \"%.64s\": unknown storage %d", key, storage);
    int err = check_latent_values(w, key, dtype, shape, ndim, data, size);
    if (err)
        return err;
    return store_array_latent(w, key, dtype, shape, ndim, data, size, storage);
}

int raiiaf_writer_add_latent_stored(raiiaf_writer *w, const void *blob, size_t size)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!blob)
        return RF_BAD_ARGS(&w->msg);
    json_object *r;
    rf_record rec;
    const uint8_t *chunk;
    size_t chunk_size;
    int err = rf_stored_unpack(blob, size, &r, &rec, &chunk, &chunk_size, &w->msg);
    if (err)
        return err;
    /* Decode once: the blob may come from anywhere (a parasite, a profile),
     * and the check must not let a bad chunk into a file. */
    void *values = malloc(rec.uncompressed_size ? (size_t)rec.uncompressed_size : 1);
    if (!values)
        err = rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    rf_source src = {chunk, -1, chunk_size};
    if (!err)
        err = rf_latent_decode(&src, &rec, values, (size_t)rec.uncompressed_size, &w->msg);
    if (!err)
        err = check_latent_values(w, rec.key, rec.dtype, rec.shape, rec.ndim, values,
                                  (size_t)rec.uncompressed_size);
    free(values);
    uint8_t *copy = NULL;
    if (!err && !(copy = malloc(chunk_size ? chunk_size : 1)))
        err = rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    if (!err) {
        memcpy(copy, chunk, chunk_size);
        json_object *extra = rf_json_get(r, "extra");
        err = put_latent(w, &rec, rf_strdup(rec.key), copy, extra ? json_object_get(extra) : NULL);
    }
    json_object_put(r);
    return err;
}

int raiiaf_writer_clear_latents(raiiaf_writer *w)
{
    if (!w)
        return RAIIAF_EINVAL;
    for (size_t i = 0; i < w->latent_count; i++)
        latent_free(&w->latents[i]);
    w->latent_count = 0;
    return RAIIAF_OK;
}

int raiiaf_writer_set_latent_storage(raiiaf_writer *w, int storage)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (storage < RAIIAF_STORAGE_AUTO || storage > RAIIAF_STORAGE_ZFP)
        return rf_fail(&w->msg, RAIIAF_EINVAL, "unknown latent storage %d", storage);
    w->recode_storage = storage;
    return RAIIAF_OK;
}

static int recode_latents(raiiaf_writer *w)
{
    for (size_t i = 0; i < w->latent_count; i++) {
        w_latent *l = &w->latents[i];
        size_t raw_size = (size_t)l->rec.uncompressed_size;
        void *values = malloc(raw_size ? raw_size : 1);
        if (!values)
            return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
        rf_source src = {l->bytes, -1, l->rec.compressed_size};
        l->rec.position = i;
        uint8_t *bytes;
        rf_record rec = l->rec;
        int err = rf_latent_decode(&src, &l->rec, values, raw_size, &w->msg);
        if (!err)
            err = rf_latent_encode(&rec, values, w->recode_storage, &bytes, &w->msg);
        free(values);
        if (err)
            return err;
        free(l->bytes);
        l->bytes = bytes;
        l->rec = rec;
    }
    return RAIIAF_OK;
}

/* ---- metadata --------------------------------------------------------- */

int raiiaf_writer_set_metadata_json(raiiaf_writer *w, const char *json, size_t size)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!json)
        return RF_BAD_ARGS(&w->msg);
    json_object *root = rf_json_parse(json, size, &w->msg, "metadata");
    if (!root)
        return RAIIAF_EMANIFEST;
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return rf_fail(&w->msg, RAIIAF_EMANIFEST, "metadata: not a JSON object");
    }
    json_object *meta = rf_json_get(root, "raiiaf_metadata");
    json_object *mi;
    json_object *extras = json_object_new_object();
    if (!extras) {
        json_object_put(root);
        return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    }
    if (meta) {
        if (!json_object_is_type(meta, json_type_object)) {
            json_object_put(root);
            json_object_put(extras);
            return rf_fail(&w->msg, RAIIAF_EMANIFEST, "metadata: raiiaf_metadata is not an object");
        }
        mi = rf_json_get(meta, "model_info");
        json_object_object_foreach(meta, k, v)
        {
            if (strcmp(k, "file_info") && strcmp(k, "model_info") && strcmp(k, "chunks"))
                json_object_object_add(extras, k, json_object_get(v));
        }
        w->rewrite = true;
    } else {
        mi = root;
    }
    if (mi && !json_object_is_type(mi, json_type_object)) {
        json_object_put(root);
        json_object_put(extras);
        return rf_fail(&w->msg, RAIIAF_EMANIFEST, "metadata: model_info is not an object");
    }
    json_object_put(w->model_info);
    w->model_info = mi ? rf_json_deep_copy(mi) : json_object_new_object();
    json_object_put(w->extras);
    w->extras = rf_json_deep_copy(extras);
    json_object_put(extras);
    json_object_put(root);
    if (!w->model_info || !w->extras)
        return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    return RAIIAF_OK;
}

/* A setting typed as a person would mean it: 42 is a number, true a
 * boolean, anything else text. */
static json_object *typed_value(const char *value)
{
    char *end;
    errno = 0;
    long long i = strtoll(value, &end, 10);
    if (*value && !*end && !errno)
        return json_object_new_int64(i);
    double d = strtod(value, &end);
    if (*value && !*end && isfinite(d) && !strpbrk(value, "xXnNiI"))
        return rf_json_new_double(d);
    if (!strcmp(value, "true") || !strcmp(value, "false"))
        return json_object_new_boolean(value[0] == 't');
    return json_object_new_string(value);
}

static json_object *child_object(json_object *parent, const char *key)
{
    json_object *o = rf_json_get(parent, key);
    if (o && json_object_is_type(o, json_type_object))
        return o;
    o = json_object_new_object();
    json_object_object_add(parent, key, o);
    return o;
}

/* "a, b ,c" as ["a", "b", "c"]. */
static json_object *tag_list(const char *value)
{
    json_object *tags = json_object_new_array();
    for (const char *p = value; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n)
            json_object_array_add(tags, json_object_new_string_len(s, (int)n));
        p = comma ? comma + 1 : p + strlen(p);
    }
    return tags;
}

int raiiaf_writer_set_text(raiiaf_writer *w, const char *key, const char *value)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!key || !*key)
        return RF_BAD_ARGS(&w->msg);
    bool remove = !value || !*value;
    for (size_t i = 0; i < rf_text_field_count; i++) {
        const char *field = rf_text_fields[i].json;
        if (strcmp(key, rf_text_fields[i].key))
            continue;
        if (!strcmp(field, "tags"))
            json_object_object_add(w->model_info, field, tag_list(remove ? "" : value));
        else if (remove)
            json_object_object_del(w->model_info, field);
        else
            json_object_object_add(w->model_info, field, json_object_new_string(value));
        return RAIIAF_OK;
    }
    /* Everything else is a member of a section: hardware-KEY, or a
     * generation setting. */
    const rf_text_field *section = &rf_text_sections[rf_text_section_count - 1];
    for (size_t i = 0; i < rf_text_section_count; i++) {
        size_t n = strlen(rf_text_sections[i].key);
        if (!strncmp(key, rf_text_sections[i].key, n)) {
            section = &rf_text_sections[i];
            break;
        }
    }
    char jkey[80];
    snprintf(jkey, sizeof jkey, "%s", key + strlen(section->key));
    for (char *c = jkey; *c; c++)
        if (*c == '-')
            *c = '_';
    if (!*jkey)
        return rf_fail(&w->msg, RAIIAF_EINVAL, "empty field name");
    json_object *parent = child_object(w->model_info, section->json);
    if (remove)
        json_object_object_del(parent, jkey);
    else
        json_object_object_add(parent, jkey, typed_value(value));
    return RAIIAF_OK;
}

int raiiaf_writer_set_extra_json(raiiaf_writer *w, const char *key, const char *json)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!key || !json)
        return RF_BAD_ARGS(&w->msg);
    if (!strcmp(key, "file_info") || !strcmp(key, "model_info") || !strcmp(key, "chunks"))
        return rf_fail(&w->msg, RAIIAF_EINVAL, "\"%s\" is not an extra key", key);
    json_object *v = rf_json_parse(json, strlen(json), &w->msg, "extra value");
    if (!v && strcmp(json, "null"))
        return RAIIAF_EMANIFEST;
    json_object_object_add(w->extras, key, v);
    return RAIIAF_OK;
}

int raiiaf_writer_import_png_text(raiiaf_writer *w)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!w->png)
        return rf_fail(&w->msg, RAIIAF_EBADSTATE, "no image given to the writer");
    return rf_ai_import_png(w->model_info, w->extras, w->png, w->png_size, true, &w->msg);
}

int raiiaf_writer_import_png_bytes(raiiaf_writer *w, const void *png, size_t size)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!png)
        return RF_BAD_ARGS(&w->msg);
    if (!rf_is_png(png, size))
        return rf_fail(&w->msg, RAIIAF_ENOTPNG, "the bytes given to import hold no PNG");
    return rf_ai_import_png(w->model_info, w->extras, png, size, false, &w->msg);
}

int raiiaf_writer_import_texts(raiiaf_writer *w, const raiiaf_png_text *texts, size_t count)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!texts && count)
        return RF_BAD_ARGS(&w->msg);
    return rf_ai_import_texts(w->model_info, w->extras, texts, count, &w->msg);
}

int raiiaf_writer_keep_png_texts(raiiaf_writer *w, const void *png, size_t size,
                                 const raiiaf_png_text *now, size_t now_count,
                                 const raiiaf_png_text *read, size_t read_count)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!png || (!now && now_count) || (!read && read_count))
        return RF_BAD_ARGS(&w->msg);
    if (!w->png)
        return rf_fail(&w->msg, RAIIAF_EBADSTATE, "no image given to the writer");
    if (!rf_is_png(png, size))
        return rf_fail(&w->msg, RAIIAF_ENOTPNG, "the bytes given hold no PNG");
    uint8_t *out;
    size_t out_size;
    int err = rf_png_keep_texts(w->png, w->png_size, png, size, now, now_count, read, read_count,
                                &out, &out_size, &w->msg);
    if (err)
        return err;
    if (out_size > UINT32_MAX - RF_INNER_SIZE) {
        free(out);
        return rf_fail(&w->msg, RAIIAF_ELIMIT, "the image is larger than a chunk can hold (4 GiB)");
    }
    free(w->png);
    w->png = out;
    w->png_size = out_size;
    return RAIIAF_OK;
}

int raiiaf_writer_set_env_json(raiiaf_writer *w, const char *json, size_t size)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!json)
        return RF_BAD_ARGS(&w->msg);
    json_object *env = rf_json_parse(json, size, &w->msg, "environment");
    if (!env)
        return RAIIAF_EMANIFEST;
    bool is_object = json_object_is_type(env, json_type_object);
    json_object_put(env);
    if (!is_object)
        return rf_fail(&w->msg, RAIIAF_EMANIFEST, "environment: not a JSON object");
    char *copy = rf_strndup(json, size);
    if (!copy)
        return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    free(w->env);
    w->env = copy;
    w->env_size = size;
    return RAIIAF_OK;
}

int raiiaf_writer_set_software(raiiaf_writer *w, const char *name, const char *version,
                               const char *action)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!name || !*name)
        return RF_BAD_ARGS(&w->msg);
    char *n = rf_strdup(name), *v = rf_strdup(version ? version : ""),
         *a = action ? rf_strdup(action) : NULL;
    if (!n || !v || (action && !a)) {
        free(n);
        free(v);
        free(a);
        return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    }
    free(w->sw_name);
    free(w->sw_version);
    free(w->sw_action);
    w->sw_name = n;
    w->sw_version = v;
    w->sw_action = a;
    return RAIIAF_OK;
}

int raiiaf_writer_new_from(raiiaf_ctx *ctx, raiiaf_writer **out)
{
    if (!out)
        return ctx ? RF_BAD_ARGS(&ctx->msg) : RAIIAF_EINVAL;
    *out = NULL;
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    raiiaf_writer *w = raiiaf_writer_new();
    if (!w)
        return rf_fail(&ctx->msg, RAIIAF_ENOMEM, "out of memory");
    err = raiiaf_writer_set_metadata_json(w, ctx->manifest_text, ctx->manifest_size);
    if (!err) {
        const char *env;
        size_t env_size;
        err = raiiaf_get_env_json(ctx, &env, &env_size);
        if (!err && env)
            err = raiiaf_writer_set_env_json(w, env, env_size);
    }
    for (size_t i = 0; !err && i < ctx->latent_count; i++) {
        void *blob;
        size_t size;
        err = raiiaf_get_latent_stored(ctx, i, &blob, &size);
        if (!err) {
            err = raiiaf_writer_add_latent_stored(w, blob, size);
            free(blob);
            if (err)
                ctx->msg = w->msg;
        }
    }
    if (err && w->msg.text[0] && !ctx->msg.text[0])
        ctx->msg = w->msg;
    if (err) {
        raiiaf_writer_free(w);
        return err;
    }
    *out = w;
    return RAIIAF_OK;
}

/* ---- validation of what the reference's schema requires ---------------- */

static bool is_int_at_least(json_object *v, int64_t min)
{
    return v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= min;
}

static bool is_number_at_least(json_object *v, double min)
{
    return v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) &&
           json_object_get_double(v) >= min;
}

static int finish_model_info(raiiaf_writer *w)
{
    json_object *mi = w->model_info;
    static const char *const strings[] = {"model_name", "version", "prompt"};
    for (size_t i = 0; i < 3; i++) {
        json_object *v = rf_json_get(mi, strings[i]);
        if (!v)
            json_object_object_add(mi, strings[i], json_object_new_string(""));
        else if (!json_object_is_type(v, json_type_string))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "model_info.%s must be a string", strings[i]);
    }
    json_object *date = rf_json_get(mi, "date");
    if (!date) {
        char now[40];
        rf_now_iso8601(now);
        json_object_object_add(mi, "date", json_object_new_string(now));
    } else if (!json_object_is_type(date, json_type_string)) {
        return rf_fail(&w->msg, RAIIAF_EVALUE, "model_info.date must be a string");
    }
    json_object *tags = rf_json_get(mi, "tags");
    if (!tags) {
        json_object_object_add(mi, "tags", json_object_new_array());
    } else {
        if (!json_object_is_type(tags, json_type_array))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "model_info.tags must be an array of strings");
        for (size_t i = 0; i < json_object_array_length(tags); i++)
            if (!json_object_is_type(json_object_array_get_idx(tags, i), json_type_string))
                return rf_fail(&w->msg, RAIIAF_EVALUE, "model_info.tags[%zu] is not a string", i);
    }
    json_object *gs = rf_json_get(mi, "generation_settings");
    if (gs && json_object_is_type(gs, json_type_object) && json_object_object_length(gs) == 0)
        json_object_object_del(mi, "generation_settings");
    else if (gs) {
        if (!json_object_is_type(gs, json_type_object))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "generation_settings must be an object");
        if (!is_int_at_least(rf_json_get(gs, "seed"), 0))
            return rf_fail(&w->msg, RAIIAF_EVALUE,
                           "generation_settings needs \"seed\", an integer >= 0");
        if (!is_int_at_least(rf_json_get(gs, "steps"), 1))
            return rf_fail(&w->msg, RAIIAF_EVALUE,
                           "generation_settings needs \"steps\", an integer >= 1");
        json_object *sampler = rf_json_get(gs, "sampler");
        if (!sampler || !json_object_is_type(sampler, json_type_string))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "generation_settings needs \"sampler\", a string");
    }
    json_object *hw = rf_json_get(mi, "hardware_info");
    if (hw && json_object_is_type(hw, json_type_object) && json_object_object_length(hw) == 0)
        json_object_object_del(mi, "hardware_info");
    else if (hw) {
        if (!json_object_is_type(hw, json_type_object))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "hardware_info must be an object");
        json_object *os = rf_json_get(hw, "os");
        if (!os || !json_object_is_type(os, json_type_string))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "hardware_info needs \"os\", a string");
        json_object *v = rf_json_get(hw, "cpu_cores");
        if (v && !is_int_at_least(v, 1))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "hardware_info.cpu_cores must be an integer >= 1");
        v = rf_json_get(hw, "ram_gb");
        if (v && !is_number_at_least(v, 0))
            return rf_fail(&w->msg, RAIIAF_EVALUE, "hardware_info.ram_gb must be a number >= 0");
        v = rf_json_get(hw, "gpu");
        if (v) {
            if (!json_object_is_type(v, json_type_array))
                return rf_fail(&w->msg, RAIIAF_EVALUE, "hardware_info.gpu must be an array");
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *name = rf_json_get(json_object_array_get_idx(v, i), "name");
                if (!name || !json_object_is_type(name, json_type_string))
                    return rf_fail(&w->msg, RAIIAF_EVALUE, "hardware_info.gpu[%zu] needs a name", i);
            }
        }
    }
    return RAIIAF_OK;
}

/* ---- our own environment ------------------------------------------------ */

static void add_component(json_object *comps, const char *id, const char *canonical)
{
    uint8_t h[32];
    char hex[65];
    rf_sha256(canonical, strlen(canonical), h);
    rf_hex(h, 32, hex);
    json_object *c = json_object_new_object();
    json_object_object_add(c, "component_id", json_object_new_string(id));
    json_object_object_add(c, "cononical_str", json_object_new_string(canonical));
    json_object_object_add(c, "component_sha256_digest", json_object_new_string(hex));
    json_object_array_add(comps, c);
}

static void add_versioned(json_object *comps, const char *id, const char *version)
{
    char s[256];
    snprintf(s, sizeof s, "name=%.100s;version=%.120s", id, version);
    add_component(comps, id, s);
}

static char *own_environment(raiiaf_writer *w, size_t *size)
{
    json_object *env = json_object_new_object();
    json_object *comps = json_object_new_array();
    json_object_object_add(env, "env_version", json_object_new_int(1));
    json_object_object_add(env, "components", comps);
    struct utsname u;
    char s[320];
    if (uname(&u) == 0) {
        /* the reference's layout: "name=os;version=Linux 6.1.0-18-amd64" */
        snprintf(s, sizeof s, "%.100s %.200s", u.sysname, u.release);
        add_versioned(comps, "os", s);
    }
    add_versioned(comps, "libraiiaf", RAIIAF_VERSION_STRING);
    add_versioned(comps, "zstd", ZSTD_versionString());
    char zfp[32];
    rf_zfp_version(zfp, sizeof zfp);
    add_versioned(comps, "zfp", zfp);
    add_versioned(comps, "libpng", png_get_libpng_ver(NULL));
    /* the PNG's rows; libdeflate has no run-time version call: the one
     * built against */
    add_versioned(comps, "libdeflate", LIBDEFLATE_VERSION_STRING);
    /* json-c and nettle are left out: they do not shape the file's bytes. */
    if (w->sw_name) {
        char id[64];
        snprintf(id, sizeof id, "%s", w->sw_name);
        for (char *c = id; *c; c++)
            *c = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c == ' ' ? '-' : *c;
        add_versioned(comps, id, w->sw_version);
    }
    size_t len;
    const char *text = rf_json_pretty(env, &len);
    char *copy = rf_strndup(text, len);
    json_object_put(env);
    *size = len;
    return copy;
}

/* ---- building the file ------------------------------------------------- */

typedef struct built {
    uint8_t header[RF_HEADER_SIZE];
    uint8_t *data_chunk, *env_chunk, *meta_chunk;
    size_t data_size, env_size, meta_size;
    uint64_t total;
} built;

static int zstd_chunk(int type, const void *payload, size_t size, int level,
                      uint8_t **out, size_t *out_size, rf_msg *msg)
{
    uint8_t inner[RF_INNER_SIZE];
    rf_inner_build(inner, type, 0, (uint32_t)size);
    size_t total = RF_INNER_SIZE + size;
    size_t cap = ZSTD_compressBound(total);
    uint8_t *buf = malloc(cap);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!buf || !cctx) {
        free(buf);
        ZSTD_freeCCtx(cctx);
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    }
    /* Streamed in two parts with the size pledged, so the frame records its
     * content size (the reference cannot read it otherwise) without a copy
     * of the payload. */
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setPledgedSrcSize(cctx, total);
    ZSTD_outBuffer ob = {buf, cap, 0};
    ZSTD_inBuffer ib = {inner, RF_INNER_SIZE, 0};
    size_t r = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue);
    if (!ZSTD_isError(r)) {
        ZSTD_inBuffer ib2 = {payload, size, 0};
        do
            r = ZSTD_compressStream2(cctx, &ob, &ib2, ZSTD_e_end);
        while (!ZSTD_isError(r) && r != 0);
    }
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(r)) {
        free(buf);
        return rf_fail(msg, RAIIAF_EZSTD, "%s chunk: zstd: %s", rf_type_name(type),
                       ZSTD_getErrorName(r));
    }
    *out = buf;
    *out_size = ob.pos;
    return RAIIAF_OK;
}

/* Appends this write to meta.edit_history when it re-writes a file. */
static void add_history(raiiaf_writer *w, json_object *meta)
{
    if (!w->rewrite || !w->sw_name || !w->sw_action)
        return;
    json_object *hist = rf_json_get(meta, "edit_history");
    if (!hist || !json_object_is_type(hist, json_type_array)) {
        hist = json_object_new_array();
        json_object_object_add(meta, "edit_history", hist);
    }
    char sw[160], now[40];
    snprintf(sw, sizeof sw, "%s%s%s", w->sw_name, *w->sw_version ? " " : "", w->sw_version);
    rf_now_iso8601(now);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "software", json_object_new_string(sw));
    json_object_object_add(e, "libraiiaf", json_object_new_string(RAIIAF_VERSION_STRING));
    json_object_object_add(e, "date", json_object_new_string(now));
    json_object_object_add(e, "action", json_object_new_string(w->sw_action));
    /* The latents describe the image as generated, not as edited. */
    json_object_object_add(e, "image_matches_latents", json_object_new_boolean(0));
    json_object_array_add(hist, e);
}

static void free_built(built *b)
{
    free(b->data_chunk);
    free(b->env_chunk);
    free(b->meta_chunk);
}

/* A file the writer makes must open in every reader with the default
 * limits (rf_default_limits): the writer refuses before writing. */
static int check_limit(raiiaf_writer *w, const char *what, uint64_t size, uint64_t max)
{
    if (size <= max)
        return RAIIAF_OK;
    return rf_fail(&w->msg, RAIIAF_ELIMIT,
                   "%s would take %llu bytes; readers refuse more than %llu, so nothing was "
                   "written", what, (unsigned long long)size, (unsigned long long)max);
}

static int check_reader_limits(raiiaf_writer *w)
{
    uint64_t total_latent = 0;
    for (size_t i = 0; i < w->latent_count; i++)
        total_latent += w->latents[i].rec.uncompressed_size;
    int err = check_limit(w, "the image", w->png_size, rf_default_limits.max_image_size);
    if (!err)
        err = check_limit(w, "the environment", w->env_size, rf_default_limits.max_json_size);
    if (!err)
        err = check_limit(w, "the latents", total_latent, rf_default_limits.max_total_latent_size);
    if (!err && w->latent_count + 2 > rf_default_limits.max_chunk_count)
        err = rf_fail(&w->msg, RAIIAF_ELIMIT,
                      "%zu latents make %zu chunks; readers refuse more than %u, so nothing was "
                      "written", w->latent_count, w->latent_count + 2,
                      rf_default_limits.max_chunk_count);
    if (!err) {
        raiiaf_image_info info;
        err = rf_png_info(&(rf_png_in){.data = w->png, .size = w->png_size}, &rf_default_limits, &info, NULL, NULL, NULL, &w->msg);
    }
    return err;
}

static int build(raiiaf_writer *w, built *b)
{
    memset(b, 0, sizeof *b);
    if (!w->png)
        return rf_fail(&w->msg, RAIIAF_EINVAL, "no image given to the writer");
    int err = finish_model_info(w);
    if (!err && w->recode_storage >= 0)
        err = recode_latents(w);
    if (err)
        return err;
    if (!w->env) {
        w->env = own_environment(w, &w->env_size);
        if (!w->env)
            return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    }
    err = check_reader_limits(w);
    if (err)
        return err;
    err = zstd_chunk(RF_DATA, w->png, w->png_size, RF_ZSTD_LEVEL, &b->data_chunk, &b->data_size, &w->msg);
    if (!err)
        err = zstd_chunk(RF_ENVC, w->env, w->env_size, RF_ZSTD_LEVEL_JSON, &b->env_chunk, &b->env_size, &w->msg);
    if (err) {
        free_built(b);
        return err;
    }

    json_object *chunks = json_object_new_array();
    uint64_t off = RF_HEADER_SIZE;
    for (size_t i = 0; i < w->latent_count; i++) {
        w_latent *l = &w->latents[i];
        l->rec.offset = off;
        json_object_array_add(chunks, rf_record_build(&l->rec, i, l->extra));
        off += l->rec.compressed_size;
    }
    rf_record data = {.type = RF_DATA, .offset = off, .compressed_size = b->data_size,
                      .uncompressed_size = w->png_size, .compressed = true};
    rf_sha256(w->png, w->png_size, data.hash);
    json_object_array_add(chunks, rf_record_build(&data, w->latent_count, NULL));
    off += b->data_size;
    rf_record env = {.type = RF_ENVC, .offset = off, .compressed_size = b->env_size,
                     .uncompressed_size = w->env_size, .compressed = true};
    rf_sha256(w->env, w->env_size, env.hash);
    json_object_array_add(chunks, rf_record_build(&env, w->latent_count + 1, NULL));
    off += b->env_size;
    uint64_t meta_offset = off;
    size_t chunk_count = w->latent_count + 2;

    json_object *root = json_object_new_object();
    json_object *meta = json_object_new_object();
    json_object *fi = json_object_new_object();
    json_object_object_add(root, "raiiaf_metadata", meta);
    json_object_object_add(meta, "file_info", fi);
    json_object_object_add(fi, "magic", json_object_new_string("raiiaf"));
    json_object_object_add(fi, "version_major", json_object_new_int(1));
    json_object_object_add(fi, "version_minor", json_object_new_int(0));
    json_object_object_add(fi, "file_size", json_object_new_int64(0));
    json_object_object_add(fi, "chunk_count", json_object_new_int64((int64_t)chunk_count));
    json_object_object_add(meta, "model_info", json_object_get(w->model_info));
    json_object_object_add(meta, "chunks", chunks);
    json_object_object_foreach(w->extras, k, v)
        json_object_object_add(meta, k, rf_json_deep_copy(v));
    add_history(w, meta);

    /* file_info.file_size includes the manifest itself: settle it. */
    uint64_t guess = meta_offset;
    for (int round = 0; round < 8; round++) {
        json_object_object_add(fi, "file_size", json_object_new_int64((int64_t)guess));
        size_t jlen;
        const char *js = rf_json_pretty(root, &jlen);
        free(b->meta_chunk);
        b->meta_chunk = NULL;
        err = check_limit(w, "the manifest", jlen, rf_default_limits.max_json_size);
        if (err)
            break;
        err = zstd_chunk(RF_META, js, jlen, RF_ZSTD_LEVEL_JSON, &b->meta_chunk, &b->meta_size, &w->msg);
        if (err)
            break;
        uint64_t total = meta_offset + b->meta_size;
        if (total == guess)
            break;
        guess = total;
    }
    json_object_put(root);
    if (err) {
        free_built(b);
        return err;
    }
    b->total = meta_offset + b->meta_size;
    if (meta_offset > UINT32_MAX || b->meta_size > UINT32_MAX) {
        free_built(b);
        return rf_fail(&w->msg, RAIIAF_ELIMIT, "the file exceeds the 4 GiB the header can address");
    }
    rf_header_build(b->header, (uint32_t)meta_offset, (uint32_t)b->meta_size,
                    (uint32_t)chunk_count, b->total);
    return RAIIAF_OK;
}

/* Calls emit(piece) for each piece of the file in order. */
typedef int (*emit_fn)(void *user, const void *data, size_t size);

static int emit_all(raiiaf_writer *w, built *b, emit_fn emit, void *user)
{
    int err = emit(user, b->header, RF_HEADER_SIZE);
    for (size_t i = 0; !err && i < w->latent_count; i++)
        err = emit(user, w->latents[i].bytes, (size_t)w->latents[i].rec.compressed_size);
    if (!err)
        err = emit(user, b->data_chunk, b->data_size);
    if (!err)
        err = emit(user, b->env_chunk, b->env_size);
    if (!err)
        err = emit(user, b->meta_chunk, b->meta_size);
    return err;
}

static int emit_memory(void *user, const void *data, size_t size)
{
    return rf_buf_append(user, data, size);
}

int raiiaf_writer_write_memory(raiiaf_writer *w, void **data, size_t *size)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!data || !size)
        return RF_BAD_ARGS(&w->msg);
    built b;
    int err = build(w, &b);
    if (err)
        return err;
    rf_buf out = {0};
    if (b.total < SIZE_MAX && !(out.data = malloc((size_t)b.total ? (size_t)b.total : 1)))
        err = rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory for %llu bytes",
                      (unsigned long long)b.total);
    out.cap = (size_t)b.total;
    if (!err && emit_all(w, &b, emit_memory, &out))
        err = rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    free_built(&b);
    if (err) {
        rf_buf_free(&out);
        return err;
    }
    *data = out.data;
    *size = out.size;
    return RAIIAF_OK;
}

static int emit_output(void *user, const void *data, size_t size)
{
    return raiiaf_output_write(user, data, size);
}

int raiiaf_writer_write_file(raiiaf_writer *w, const char *path)
{
    if (!w)
        return RAIIAF_EINVAL;
    if (!path || !*path)
        return RF_BAD_ARGS(&w->msg);
    built b;
    int err = build(w, &b);
    if (err)
        return err;
    raiiaf_output *o = raiiaf_output_new();
    if (!o) {
        free_built(&b);
        return rf_fail(&w->msg, RAIIAF_ENOMEM, "out of memory");
    }
    err = raiiaf_output_open(o, path, 0);
    if (!err)
        err = emit_all(w, &b, emit_output, o);
    free_built(&b);
    if (!err)
        err = raiiaf_output_commit(o);
    if (err)
        rf_fail(&w->msg, err, "%s", raiiaf_output_message(o));
    raiiaf_output_free(o);
    return err;
}
