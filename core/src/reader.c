#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rf_type_name(int type)
{
    switch (type) {
    case RF_LATN: return "LATN";
    case RF_DATA: return "DATA";
    case RF_ENVC: return "ENVC";
    default: return "?";
    }
}

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
    free(ctx->env_alloc);
    for (size_t i = 0; i < ctx->text_count; i++) {
        free(ctx->texts[i].key);
        free(ctx->texts[i].value);
    }
    free(ctx->texts);
    free(ctx->parameters);
    free(ctx);
}

int raiiaf_ctx_set_limits(raiiaf_ctx *ctx, const raiiaf_limits *limits)
{
    if (!ctx || !limits)
        return RAIIAF_EINVAL;
    if (ctx->state != RF_NEW)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE, "limits must be set before opening");
    ctx->limits = *limits;
    return RAIIAF_OK;
}

const char *raiiaf_ctx_message(const raiiaf_ctx *ctx)
{
    return ctx ? ctx->msg.text : "";
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

/* ---- records ---------------------------------------------------------- */

static const char *dtype_name(int dtype)
{
    return dtype == RAIIAF_FLOAT16 ? "float16" : "float32";
}

int rf_parse_record(json_object *obj, size_t position, uint64_t file_size,
                    const raiiaf_limits *limits, rf_record *rec, rf_msg *msg)
{
    memset(rec, 0, sizeof *rec);
    rec->position = position;
    rec->obj = obj;
    if (!json_object_is_type(obj, json_type_object))
        return rf_fail(msg, RAIIAF_EMANIFEST, "chunk %zu: record is not a JSON object", position);

    json_object *type = rf_json_get(obj, "type");
    const char *tname = type && json_object_is_type(type, json_type_string)
                            ? json_object_get_string(type) : NULL;
    if (!tname)
        return rf_fail(msg, RAIIAF_EMANIFEST, "chunk %zu: record has no \"type\"", position);
    if (!strcmp(tname, "LATN"))
        rec->type = RF_LATN;
    else if (!strcmp(tname, "DATA"))
        rec->type = RF_DATA;
    else if (!strcmp(tname, "ENVC"))
        rec->type = RF_ENVC;
    else
        return rf_fail(msg, RAIIAF_ERECORD,
                       "chunk %zu: unknown chunk type \"%.16s\" (the reference rejects it too)",
                       position, tname);
    const char *tn = rf_type_name(rec->type);

    if (!rf_json_get_u64(obj, "offset", &rec->offset) ||
        !rf_json_get_u64(obj, "compressed_size", &rec->compressed_size) ||
        !rf_json_get_u64(obj, "uncompressed_size", &rec->uncompressed_size))
        return rf_fail(msg, RAIIAF_EMANIFEST,
                       "chunk %zu (%s): offset, compressed_size and uncompressed_size must be "
                       "non-negative integers", position, tn);
    json_object *hash = rf_json_get(obj, "hash");
    if (!hash || !json_object_is_type(hash, json_type_string) ||
        !rf_parse_hex32(json_object_get_string(hash), rec->hash))
        return rf_fail(msg, RAIIAF_EMANIFEST, "chunk %zu (%s): \"hash\" is not a sha256 hex digest",
                       position, tn);
    json_object *comp = rf_json_get(obj, "compressed");
    if (!comp || !json_object_is_type(comp, json_type_boolean))
        return rf_fail(msg, RAIIAF_EMANIFEST, "chunk %zu (%s): \"compressed\" is not a boolean",
                       position, tn);
    rec->compressed = json_object_get_boolean(comp);

    if (file_size) {
        if (rec->offset < RF_HEADER_SIZE || rec->offset > file_size ||
            rec->compressed_size > file_size - rec->offset)
            return rf_fail(msg, RAIIAF_ERECORD,
                           "chunk %zu (%s): bytes %llu..%llu lie outside the file (%llu bytes)",
                           position, tn, (unsigned long long)rec->offset,
                           (unsigned long long)(rec->offset + rec->compressed_size),
                           (unsigned long long)file_size);
    }

    if (rec->type != RF_LATN) {
        uint64_t max = rec->type == RF_DATA ? limits->max_image_size : limits->max_json_size;
        if (rec->uncompressed_size > max)
            return rf_fail(msg, RAIIAF_ELIMIT, "chunk %zu (%s): %llu bytes exceed the limit of %llu",
                           position, tn, (unsigned long long)rec->uncompressed_size,
                           (unsigned long long)max);
        if (rec->compressed ? rec->compressed_size == 0
                            : rec->compressed_size != RF_INNER_SIZE + rec->uncompressed_size)
            return rf_fail(msg, RAIIAF_ERECORD,
                           "chunk %zu (%s): compressed_size %llu does not fit uncompressed_size %llu",
                           position, tn, (unsigned long long)rec->compressed_size,
                           (unsigned long long)rec->uncompressed_size);
        return RAIIAF_OK;
    }

    /* LATN: element type, shape, and how the bytes are split. */
    json_object *flags = rf_json_get(obj, "flags");
    const char *fl = flags && json_object_is_type(flags, json_type_string)
                         ? json_object_get_string(flags) : "";
    if (!strcmp(fl, "F32"))
        rec->dtype = RAIIAF_FLOAT32;
    else if (!strcmp(fl, "F16"))
        rec->dtype = RAIIAF_FLOAT16;
    else
        return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (LATN): flags \"%.8s\" are neither F32 nor F16",
                       position, fl);
    json_object *extra = rf_json_get(obj, "extra");
    json_object *dt = rf_json_get(extra, "dtype");
    if (dt && (!json_object_is_type(dt, json_type_string) ||
               strcmp(json_object_get_string(dt), dtype_name(rec->dtype))))
        return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (LATN): extra.dtype disagrees with flags %s",
                       position, fl);
    json_object *key = rf_json_get(extra, "key");
    if (key && json_object_is_type(key, json_type_string) && json_object_get_string_len(key) > 0) {
        rec->key = json_object_get_string(key);
        if (strlen(rec->key) != (size_t)json_object_get_string_len(key))
            return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (LATN): key holds a NUL byte", position);
    } else {
        snprintf(rec->fallback_key, sizeof rec->fallback_key, "latent_%zu", position);
        rec->key = rec->fallback_key;
    }
    json_object *shape = rf_json_get(extra, "shape");
    if (!shape || !json_object_is_type(shape, json_type_array))
        return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (LATN \"%.64s\"): extra.shape is missing",
                       position, rec->key);
    size_t nd = json_object_array_length(shape);
    if (nd < 1 || nd > RAIIAF_MAX_DIMS)
        return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (LATN \"%.64s\"): %zu dimensions (1..%d allowed)",
                       position, rec->key, nd, RAIIAF_MAX_DIMS);
    rec->ndim = (unsigned)nd;
    uint64_t elements = 1;
    for (size_t i = 0; i < nd; i++) {
        json_object *d = json_object_array_get_idx(shape, i);
        int64_t v = d && json_object_is_type(d, json_type_int) ? json_object_get_int64(d) : -1;
        if (v < 1 || (uint64_t)v > limits->max_latent_dim)
            return rf_fail(msg, v < 1 ? RAIIAF_ERECORD : RAIIAF_ELIMIT,
                           "chunk %zu (LATN \"%.64s\"): dimension %zu is %lld (1..%u allowed)",
                           position, rec->key, i, (long long)v, limits->max_latent_dim);
        rec->shape[i] = (uint64_t)v;
        if (rf_mul_overflow(elements, (uint64_t)v, &elements))
            return rf_fail(msg, RAIIAF_ELIMIT, "chunk %zu (LATN \"%.64s\"): shape overflows",
                           position, rec->key);
    }
    uint64_t bytes;
    if (rf_mul_overflow(elements, rec->dtype == RAIIAF_FLOAT16 ? 2 : 4, &bytes) ||
        bytes > limits->max_latent_size)
        return rf_fail(msg, RAIIAF_ELIMIT, "chunk %zu (LATN \"%.64s\"): %llu elements exceed the limit",
                       position, rec->key, (unsigned long long)elements);
    if (bytes != rec->uncompressed_size)
        return rf_fail(msg, RAIIAF_ERECORD,
                       "chunk %zu (LATN \"%.64s\"): shape makes %llu bytes, uncompressed_size says %llu",
                       position, rec->key, (unsigned long long)bytes,
                       (unsigned long long)rec->uncompressed_size);
    if (rec->compressed) {
        if (!rf_json_get_u64(obj, "len_header", &rec->len_header) ||
            !rf_json_get_u64(obj, "len_data", &rec->len_data))
            return rf_fail(msg, RAIIAF_ERECORD,
                           "chunk %zu (LATN \"%.64s\"): compressed without len_header/len_data",
                           position, rec->key);
        if (rec->len_header == 0 || rec->len_data == 0 ||
            rec->len_header > rec->compressed_size ||
            rec->len_data != rec->compressed_size - rec->len_header)
            return rf_fail(msg, RAIIAF_ERECORD,
                           "chunk %zu (LATN \"%.64s\"): len_header + len_data != compressed_size",
                           position, rec->key);
    } else {
        if (rec->compressed_size != RF_INNER_SIZE + rec->uncompressed_size)
            return rf_fail(msg, RAIIAF_ERECORD,
                           "chunk %zu (LATN \"%.64s\"): compressed_size %llu != 12 + %llu",
                           position, rec->key, (unsigned long long)rec->compressed_size,
                           (unsigned long long)rec->uncompressed_size);
        uint64_t lh, ld;
        if ((rf_json_get_u64(obj, "len_header", &lh) && lh != RF_INNER_SIZE) ||
            (rf_json_get_u64(obj, "len_data", &ld) && ld != rec->uncompressed_size))
            return rf_fail(msg, RAIIAF_ERECORD,
                           "chunk %zu (LATN \"%.64s\"): len_header/len_data disagree with an "
                           "uncompressed chunk", position, rec->key);
        rec->len_header = RF_INNER_SIZE;
        rec->len_data = rec->uncompressed_size;
    }
    return RAIIAF_OK;
}

int rf_check_inner(const uint8_t *inner, const rf_record *rec, uint64_t payload_size, rf_msg *msg)
{
    const char *tn = rf_type_name(rec->type);
    if (memcmp(inner, tn, 4))
        return rf_fail(msg, RAIIAF_ECHUNK, "chunk %zu (%s): inner header says type \"%.4s\"",
                       rec->position, tn, (const char *)inner);
    if (rec->type == RF_LATN) {
        const char *want = rec->dtype == RAIIAF_FLOAT16 ? "F16" : "F32";
        if (memcmp(inner + 4, want, 3) || inner[7] != 0)
            return rf_fail(msg, RAIIAF_ECHUNK, "chunk %zu (LATN): inner header flags are not %s",
                           rec->position, want);
    }
    uint32_t size = rf_get_le32(inner + 8);
    if (size != payload_size)
        return rf_fail(msg, RAIIAF_ECHUNK, "chunk %zu (%s): inner header says %u bytes, record %llu",
                       rec->position, tn, size, (unsigned long long)payload_size);
    return RAIIAF_OK;
}

static int check_hash(const uint8_t *payload, size_t size, const rf_record *rec, rf_msg *msg)
{
    uint8_t h[32];
    rf_sha256(payload, size, h);
    if (memcmp(h, rec->hash, 32)) {
        char got[65];
        rf_hex(h, 32, got);
        return rf_fail(msg, RAIIAF_EHASH, "chunk %zu (%s): sha256 mismatch: payload is %.12s..., "
                       "manifest says otherwise", rec->position, rf_type_name(rec->type), got);
    }
    return RAIIAF_OK;
}

int rf_load_payload(const rf_source *src, const rf_record *rec, const raiiaf_limits *limits,
                    uint8_t **alloc, const uint8_t **payload, rf_msg *msg)
{
    (void)limits; /* sizes were checked against the limits with the record */
    char what[48];
    snprintf(what, sizeof what, "chunk %zu (%s)", rec->position, rf_type_name(rec->type));
    uint64_t total = RF_INNER_SIZE + rec->uncompressed_size;
    if (total > SIZE_MAX - 1)
        return rf_fail(msg, RAIIAF_ELIMIT, "%s: too large for this machine", what);
    uint8_t *buf = malloc((size_t)total + 1);
    if (!buf)
        return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory for %llu bytes", what,
                       (unsigned long long)total);
    int err = rec->compressed
                  ? rf_unzstd_exact(src, rec->offset, rec->compressed_size, buf, total, msg, what)
                  : rf_source_read(src, rec->offset, buf, (size_t)total, msg, what);
    if (!err)
        err = rf_check_inner(buf, rec, rec->uncompressed_size, msg);
    if (!err)
        err = check_hash(buf + RF_INNER_SIZE, (size_t)rec->uncompressed_size, rec, msg);
    if (err) {
        free(buf);
        return err;
    }
    buf[total] = 0; /* JSON payloads read as C strings */
    *alloc = buf;
    *payload = buf + RF_INNER_SIZE;
    return RAIIAF_OK;
}

/* ---- opening ---------------------------------------------------------- */

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

    ctx->manifest = rf_json_parse(ctx->manifest_text, ctx->manifest_size, msg, "manifest");
    if (!ctx->manifest)
        return RAIIAF_EMANIFEST;
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
    return RAIIAF_OK;
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
    h->version_major = b[6];
    h->version_minor = b[7];
    h->flags = b[8];
    h->chunk_table_offset = rf_get_le32(b + 9);
    h->chunk_table_size = rf_get_le32(b + 13);
    h->chunk_count = rf_get_le32(b + 17);
    h->file_size = rf_get_le64(b + 21);
    h->reserved = rf_get_le32(b + 29);
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
    return err;
}

int raiiaf_open_file(raiiaf_ctx *ctx, const char *path)
{
    if (!ctx || !path)
        return RAIIAF_EINVAL;
    if (ctx->state != RF_NEW)
        return rf_fail(&ctx->msg, RAIIAF_EBADSTATE, "a context opens one file only");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
    if (!ctx || (!data && size))
        return RAIIAF_EINVAL;
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
        return RAIIAF_EINVAL;
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
    if (ctx->env_state == 1)
        return RAIIAF_OK;
    if (ctx->env_state < 0) { /* the same failure, with its message */
        ctx->msg = ctx->env_msg;
        return -ctx->env_state;
    }
    if (ctx->env_record < 0) {
        ctx->env_state = 1;
        return RAIIAF_OK;
    }
    const uint8_t *payload;
    int err = rf_load_payload(&ctx->src, &ctx->records[ctx->env_record], &ctx->limits,
                              &ctx->env_alloc, &payload, &ctx->env_msg);
    if (!err) {
        ctx->env_text = (char *)payload;
        ctx->env_size = (size_t)ctx->records[ctx->env_record].uncompressed_size;
        json_object *env = rf_json_parse(ctx->env_text, ctx->env_size, &ctx->env_msg, "environment");
        if (!env)
            err = RAIIAF_EMANIFEST;
        json_object_put(env);
    }
    ctx->env_state = err ? -err : 1;
    if (err)
        ctx->msg = ctx->env_msg;
    return err;
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

int raiiaf_verify(raiiaf_ctx *ctx)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    raiiaf_image_info info;
    err = raiiaf_get_image_info(ctx, &info); /* the PNG header, not its pixels */
    if (err == RAIIAF_ENOIMAGE)
        err = RAIIAF_OK; /* a file may hold latents only */
    if (err)
        return err;
    err = rf_ctx_load_env(ctx);
    if (err)
        return err;
    for (size_t i = 0; i < ctx->latent_count; i++) {
        const rf_record *rec = &ctx->records[ctx->latents[i]];
        void *buf = malloc(rec->uncompressed_size ? (size_t)rec->uncompressed_size : 1);
        if (!buf)
            return rf_fail(&ctx->msg, RAIIAF_ENOMEM, "chunk %zu (LATN): out of memory",
                           rec->position);
        err = rf_latent_decode(&ctx->src, rec, buf, (size_t)rec->uncompressed_size, &ctx->msg);
        free(buf);
        if (err)
            return err;
    }
    return RAIIAF_OK;
}
