#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

raiiaf_ctx *raiiaf_ctx_new(void)
{
    raiiaf_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    raiiaf_limits_default(&ctx->limits);
    ctx->src.fd = -1;
    ctx->data_record = ctx->env_record = -1;
    return ctx;
}

void raiiaf_ctx_free(raiiaf_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->own_fd && ctx->src.fd >= 0)
        close(ctx->src.fd);
    free(ctx->manifest_text);
    json_object_put(ctx->manifest);
    free(ctx->records);
    free(ctx->latents);
    rf_png_rows_free(ctx->rows);
    free(ctx->image_alloc);
    free(ctx->icc);
    free(ctx->icc_name);
    json_object_put(ctx->env);
    free(ctx->env_alloc);
    for (size_t i = 0; i < ctx->text_count; i++) {
        free(ctx->texts[i].key);
        free(ctx->texts[i].value);
    }
    free(ctx->texts);
    free(ctx->texts_sorted);
    free(ctx->parameters);
    free(ctx);
}

int raiiaf_ctx_set_limits(raiiaf_ctx *ctx, const raiiaf_limits *limits)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    if (!limits)
        return RF_BAD_ARGS(&ctx->msg);
    if (ctx->state != RF_NEW)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE, "limits must be set before opening");
    ctx->limits = *limits;
    return RAIIAF_OK;
}

int raiiaf_ctx_set_pixel_limit(raiiaf_ctx *ctx, uint64_t max_pixels)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    if (ctx->state == RF_BROKEN || ctx->image_cache.state || ctx->info_cache.state)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE,
                       "the pixel limit must be set before the image is read");
    ctx->limits.max_image_pixels = max_pixels ? max_pixels : rf_default_limits.max_image_pixels;
    return RAIIAF_OK;
}

int raiiaf_ctx_set_row_buffer_limit(raiiaf_ctx *ctx, uint64_t max_bytes)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    ctx->row_buffer_limit = max_bytes;
    return RAIIAF_OK;
}

int raiiaf_ctx_set_threads(raiiaf_ctx *ctx, int threads)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    if (threads < 0)
        return rf_fail(&ctx->msg, RAIIAF_EINVAL, "threads must be 0 (the default) or more");
    ctx->threads = threads;
    return RAIIAF_OK;
}

const char *raiiaf_ctx_message(const raiiaf_ctx *ctx)
{
    return ctx ? ctx->msg.text : RF_NO_OBJECT_MESSAGE;
}

int rf_ctx_check(raiiaf_ctx *ctx)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    if (ctx->state != RF_OPEN)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE,
                       ctx->state == RF_NEW ? "no file opened" : "the file failed to open");
    ctx->msg.text[0] = '\0';
    return RAIIAF_OK;
}

/* ---- payloads loaded once ------------------------------------------- */

int rf_cached_get(const rf_cached *c, rf_msg *out)
{
    if (c->state == 0)
        return RF_CACHE_EMPTY;
    if (c->state < 0) { /* the same failure, with its message */
        *out = c->msg;
        return -c->state;
    }
    return RAIIAF_OK;
}

int rf_cached_set(rf_cached *c, int err, rf_msg *out)
{
    c->state = err ? -err : 1;
    if (err)
        *out = c->msg;
    return err;
}

/* ---- opening ---------------------------------------------------------- */

static int compare_latent_keys(const void *a, const void *b)
{
    return strcmp(((const rf_record *const *)a)[0]->key, ((const rf_record *const *)b)[0]->key);
}

/* Two latents with one key: a host keeping latents by key would drop one
 * on export, so such a file is refused (sorted: linear after the sort). */
static int check_unique_keys(raiiaf_ctx *ctx)
{
    if (ctx->latent_count < 2)
        return RAIIAF_OK;
    const rf_record **by_key = malloc(ctx->latent_count * sizeof *by_key);
    if (!by_key)
        return rf_fail(&ctx->msg, RAIIAF_ENOMEM, "manifest: out of memory");
    for (size_t i = 0; i < ctx->latent_count; i++)
        by_key[i] = &ctx->records[ctx->latents[i]];
    qsort(by_key, ctx->latent_count, sizeof *by_key, compare_latent_keys);
    int err = RAIIAF_OK;
    for (size_t i = 1; !err && i < ctx->latent_count; i++)
        if (!strcmp(by_key[i - 1]->key, by_key[i]->key)) {
            const rf_record *a = by_key[i - 1], *b = by_key[i];
            if (a->position > b->position)
                a = by_key[i], b = by_key[i - 1];
            err = rf_fail(&ctx->msg, RAIIAF_EDUPLICATE,
                          "chunk %zu (LATN \"%.64s\"): the key of chunk %zu again", b->position,
                          b->key, a->position);
        }
    free(by_key);
    return err;
}

static int parse_manifest(raiiaf_ctx *ctx)
{
    const raiiaf_header *h = &ctx->header;
    rf_msg *msg = &ctx->msg;
    uint8_t *meta = NULL;
    uint64_t got = 0;
    uint64_t max = ctx->limits.max_json_size + RF_INNER_SIZE;
    int err = rf_unzstd_alloc(&ctx->src, h->chunk_table_offset, h->chunk_table_size, max, &meta,
                              &got, msg, "META chunk");
    if (err)
        return err;
    if (got < RF_INNER_SIZE || memcmp(meta, "META", 4) || rf_get_le32(meta + 8) != got - RF_INNER_SIZE) {
        free(meta);
        return rf_fail(msg, RAIIAF_ECHUNK, "META chunk: inner header is not META with its size");
    }
    ctx->manifest_size = (size_t)(got - RF_INNER_SIZE);
    ctx->manifest_text = malloc(ctx->manifest_size + 1);
    if (!ctx->manifest_text) {
        free(meta);
        return rf_fail(msg, RAIIAF_ENOMEM, "META chunk: out of memory");
    }
    memcpy(ctx->manifest_text, meta + RF_INNER_SIZE, ctx->manifest_size);
    ctx->manifest_text[ctx->manifest_size] = 0;
    free(meta);

    int jerr = rf_json_parse_limited(ctx->manifest_text, ctx->manifest_size, &ctx->limits,
                                     &ctx->manifest, msg, "manifest");
    if (jerr)
        return jerr;
    ctx->meta = rf_json_get(ctx->manifest, "raiiaf_metadata");
    if (!ctx->meta || !json_object_is_type(ctx->meta, json_type_object))
        return rf_fail(msg, RAIIAF_EMANIFEST, "manifest: no \"raiiaf_metadata\" object");
    json_object *mi = rf_json_get(ctx->meta, "model_info");
    if (mi && !json_object_is_type(mi, json_type_object))
        return rf_fail(msg, RAIIAF_EMANIFEST, "manifest: \"model_info\" is not an object");
    json_object *chunks = rf_json_get(ctx->meta, "chunks");
    if (!chunks || !json_object_is_type(chunks, json_type_array))
        return rf_fail(msg, RAIIAF_EMANIFEST, "manifest: no \"chunks\" array");
    size_t n = json_object_array_length(chunks);
    if (n > ctx->limits.max_chunk_count)
        return rf_fail(msg, RAIIAF_ELIMIT, "manifest: %zu chunk records exceed the limit of %u", n,
                       ctx->limits.max_chunk_count);
    if (n != h->chunk_count)
        return rf_fail(msg, RAIIAF_EHEADER, "header says %u chunks, the manifest lists %zu",
                       h->chunk_count, n);

    ctx->records = calloc(n ? n : 1, sizeof *ctx->records);
    ctx->latents = calloc(n ? n : 1, sizeof *ctx->latents);
    if (!ctx->records || !ctx->latents)
        return rf_fail(msg, RAIIAF_ENOMEM, "manifest: out of memory");
    uint64_t total_latent = 0;
    for (size_t i = 0; i < n; i++) {
        rf_record *rec = &ctx->records[i];
        err = rf_parse_record(json_object_array_get_idx(chunks, i), i, h->file_size, &ctx->limits,
                              rec, msg);
        if (err)
            return err;
        ctx->record_count = i + 1;
        uint64_t meta_end = (uint64_t)h->chunk_table_offset + h->chunk_table_size;
        if (rec->offset < meta_end && rec->offset + rec->compressed_size > h->chunk_table_offset)
            return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (%s): overlaps the META chunk", i,
                           rf_type_name(rec->type));
        switch (rec->type) {
        case RF_LATN:
            total_latent += rec->uncompressed_size;
            if (total_latent > ctx->limits.max_total_latent_size)
                return rf_fail(msg, RAIIAF_ELIMIT, "chunk %zu (LATN): latents exceed the limit of "
                               "%llu bytes in all", i,
                               (unsigned long long)ctx->limits.max_total_latent_size);
            ctx->latents[ctx->latent_count++] = i;
            break;
        case RF_DATA:
            if (ctx->data_record >= 0)
                return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu: a second DATA chunk", i);
            ctx->data_record = (long)i;
            break;
        case RF_ENVC:
            if (ctx->env_record >= 0)
                return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu: a second ENVC chunk", i);
            ctx->env_record = (long)i;
            break;
        }
    }
    return check_unique_keys(ctx);
}

static int open_source(raiiaf_ctx *ctx)
{
    rf_msg *msg = &ctx->msg;
    if (ctx->src.size > ctx->limits.max_file_size)
        return rf_fail(msg, RAIIAF_ELIMIT, "the file's %llu bytes exceed the limit of %llu",
                       (unsigned long long)ctx->src.size,
                       (unsigned long long)ctx->limits.max_file_size);
    if (ctx->src.size < RAIIAF_MAGIC_SIZE)
        return rf_fail(msg, ctx->src.size ? RAIIAF_ETRUNCATED : RAIIAF_EMAGIC,
                       "the file has %llu bytes: too short for a .raiiaf header",
                       (unsigned long long)ctx->src.size);
    uint8_t b[RF_HEADER_SIZE];
    int err = rf_source_read(&ctx->src, 0, b, RAIIAF_MAGIC_SIZE, msg, "file header");
    if (err)
        return err;
    if (!raiiaf_check_signature(b, RAIIAF_MAGIC_SIZE))
        return rf_fail(msg, RAIIAF_EMAGIC, "not a .raiiaf file: it does not start with \"raiiaf\"");
    if (ctx->src.size < RF_HEADER_SIZE)
        return rf_fail(msg, RAIIAF_ETRUNCATED, "the file has %llu bytes: the header needs 33",
                       (unsigned long long)ctx->src.size);
    err = rf_source_read(&ctx->src, 0, b, RF_HEADER_SIZE, msg, "file header");
    if (err)
        return err;
    raiiaf_header *h = &ctx->header;
    rf_header_parse(b, h);
    if (h->version_major != 1)
        return rf_fail(msg, RAIIAF_EVERSION, "format version %u.%u (this reader knows 1.x)",
                       h->version_major, h->version_minor);
    if (h->file_size > ctx->src.size)
        return rf_fail(msg, RAIIAF_ETRUNCATED, "the header says %llu bytes, the file has %llu",
                       (unsigned long long)h->file_size, (unsigned long long)ctx->src.size);
    if (h->file_size != ctx->src.size)
        return rf_fail(msg, RAIIAF_EHEADER, "the header says %llu bytes, the file has %llu",
                       (unsigned long long)h->file_size, (unsigned long long)ctx->src.size);
    if (h->chunk_count > ctx->limits.max_chunk_count)
        return rf_fail(msg, RAIIAF_ELIMIT, "header says %u chunks, the limit is %u", h->chunk_count,
                       ctx->limits.max_chunk_count);
    if (h->chunk_table_offset < RF_HEADER_SIZE || h->chunk_table_size == 0 ||
        (uint64_t)h->chunk_table_offset + h->chunk_table_size > h->file_size)
        return rf_fail(msg, RAIIAF_EHEADER, "the META chunk (bytes %u+%u) lies outside the file",
                       h->chunk_table_offset, h->chunk_table_size);
    return parse_manifest(ctx);
}

static int finish_open(raiiaf_ctx *ctx, int err)
{
    ctx->state = err ? RF_BROKEN : RF_OPEN;
    if (!err)
        ctx->msg.text[0] = '\0';
    return err;
}

int raiiaf_open_file(raiiaf_ctx *ctx, const char *path)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    if (!path)
        return RF_BAD_ARGS(&ctx->msg);
    if (ctx->state != RF_NEW)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE, "a context opens one file only");
    /* O_NONBLOCK: opening a FIFO without a writer would wait forever; it
     * is refused below as not a regular file (the flag does nothing to
     * regular files). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        ctx->state = RF_BROKEN;
        return rf_fail(&ctx->msg, RAIIAF_EIO, "cannot open: %s", strerror(errno));
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (S_ISDIR(st.st_mode))
        why = "is a directory";
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    if (why) {
        close(fd);
        ctx->state = RF_BROKEN;
        return rf_fail(&ctx->msg, RAIIAF_EIO, "cannot read: %s", why);
    }
    ctx->src.fd = fd;
    ctx->own_fd = 1;
    ctx->src.size = (uint64_t)st.st_size;
    return finish_open(ctx, open_source(ctx));
}

int raiiaf_open_memory(raiiaf_ctx *ctx, const void *data, size_t size)
{
    if (!ctx)
        return RAIIAF_EINVAL;
    if ((!data && size))
        return RF_BAD_ARGS(&ctx->msg);
    if (ctx->state != RF_NEW)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE, "a context opens one file only");
    static const uint8_t empty[1];
    ctx->src.mem = data ? data : empty;
    ctx->src.size = size;
    return finish_open(ctx, open_source(ctx));
}

int raiiaf_get_header(raiiaf_ctx *ctx, raiiaf_header *header)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!header)
        return RF_BAD_ARGS(&ctx->msg);
    *header = ctx->header;
    return RAIIAF_OK;
}

int raiiaf_get_manifest_json(raiiaf_ctx *ctx, const char **json, size_t *size)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (json)
        *json = ctx->manifest_text;
    if (size)
        *size = ctx->manifest_size;
    return RAIIAF_OK;
}

int rf_ctx_load_env(raiiaf_ctx *ctx)
{
    int err = rf_cached_get(&ctx->env_cache, &ctx->msg);
    if (err != RF_CACHE_EMPTY)
        return err;
    err = RAIIAF_OK;
    if (ctx->env_record >= 0) {
        const rf_record *rec = &ctx->records[ctx->env_record];
        const uint8_t *payload;
        err = rf_load_payload(&ctx->src, rec, ctx->threads, &ctx->env_alloc, &payload,
                              &ctx->env_cache.msg);
        if (!err) {
            ctx->env_text = (char *)payload;
            ctx->env_size = (size_t)rec->uncompressed_size;
            err = rf_json_parse_limited(ctx->env_text, ctx->env_size, &ctx->limits, &ctx->env,
                                        &ctx->env_cache.msg, "environment");
        }
    }
    return rf_cached_set(&ctx->env_cache, err, &ctx->msg);
}

int raiiaf_get_env_json(raiiaf_ctx *ctx, const char **json, size_t *size)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    err = rf_ctx_load_env(ctx);
    if (err)
        return err;
    if (json)
        *json = ctx->env_text;
    if (size)
        *size = ctx->env_size;
    return RAIIAF_OK;
}
