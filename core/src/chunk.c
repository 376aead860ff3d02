/* The chunk format: the file header, the manifest's chunk records, the
 * chunks' inner headers, payload checks and the stored form of a latent.
 * Each reading side stands beside its writing side. The reader, the
 * latent codec, the image decoder and the writer call in here; nothing
 * here calls them. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [RF_LATN] = "LATN", [RF_DATA] = "DATA", [RF_ENVC] = "ENVC", [RF_META] = "META",
};

const char *rf_type_name(int type)
{
    if (type < 0 || (size_t)type >= sizeof type_names / sizeof type_names[0])
        return "????";
    return type_names[type];
}

/* The record types a manifest may list (META is the manifest itself). */
static int record_type(const char *name)
{
    for (int t = RF_LATN; t <= RF_ENVC; t++)
        if (!strcmp(name, type_names[t]))
            return t;
    return -1;
}

/* ---- the file header -------------------------------------------------- */

void rf_header_parse(const uint8_t b[RF_HEADER_SIZE], raiiaf_header *h)
{
    h->version_major = b[6];
    h->version_minor = b[7];
    h->flags = b[8];
    h->chunk_table_offset = rf_get_le32(b + 9);
    h->chunk_table_size = rf_get_le32(b + 13);
    h->chunk_count = rf_get_le32(b + 17);
    h->file_size = rf_get_le64(b + 21);
    h->reserved = rf_get_le32(b + 29);
}

void rf_header_build(uint8_t b[RF_HEADER_SIZE], uint32_t meta_offset, uint32_t meta_size,
                     uint32_t chunk_count, uint64_t file_size)
{
    memcpy(b, RAIIAF_MAGIC, RAIIAF_MAGIC_SIZE);
    b[6] = 1; /* version 1.0, no flags */
    b[7] = 0;
    b[8] = 0;
    rf_put_le32(b + 9, meta_offset);
    rf_put_le32(b + 13, meta_size);
    rf_put_le32(b + 17, chunk_count);
    rf_put_le64(b + 21, file_size);
    rf_put_le32(b + 29, 0);
}

/* ---- chunk records ------------------------------------------------------ */

/* The fields every record has: type, offset, sizes, hash, compressed. */
static int parse_common(json_object *obj, uint64_t file_size, const raiiaf_limits *limits,
                        rf_record *rec, rf_msg *msg)
{
    size_t position = rec->position;
    if (!json_object_is_type(obj, json_type_object))
        return rf_fail(msg, RAIIAF_EMANIFEST, "chunk %zu: record is not a JSON object", position);

    json_object *type = rf_json_get(obj, "type");
    const char *tname = type && json_object_is_type(type, json_type_string)
                            ? json_object_get_string(type) : NULL;
    if (!tname)
        return rf_fail(msg, RAIIAF_EMANIFEST, "chunk %zu: record has no \"type\"", position);
    rec->type = record_type(tname);
    if (rec->type < 0)
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
    }
    return RAIIAF_OK;
}

/* A LATN record's element type, key and shape. */
static int parse_latent_kind(json_object *obj, const raiiaf_limits *limits, rf_record *rec,
                             rf_msg *msg)
{
    size_t position = rec->position;
    json_object *flags = rf_json_get(obj, "flags");
    const char *fl = flags && json_object_is_type(flags, json_type_string)
                         ? json_object_get_string(flags) : "";
    rec->dtype = rf_dtype_from_flags(fl);
    if (rec->dtype < 0)
        return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (LATN): flags \"%.8s\" are neither F32 nor F16",
                       position, fl);
    json_object *extra = rf_json_get(obj, "extra");
    json_object *dt = rf_json_get(extra, "dtype");
    if (dt && (!json_object_is_type(dt, json_type_string) ||
               strcmp(json_object_get_string(dt), rf_dtype(rec->dtype)->name)))
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
    if (nd < 1 || nd > RF_REF_LATENT_NDIM) /* the reference writes 4 */
        return rf_fail(msg, RAIIAF_ERECORD, "chunk %zu (LATN \"%.64s\"): %zu dimensions (1..%d allowed)",
                       position, rec->key, nd, RF_REF_LATENT_NDIM);
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
    if (rf_mul_overflow(elements, rf_dtype(rec->dtype)->size, &bytes) ||
        bytes > limits->max_latent_size)
        return rf_fail(msg, RAIIAF_ELIMIT, "chunk %zu (LATN \"%.64s\"): %llu elements exceed the limit",
                       position, rec->key, (unsigned long long)elements);
    if (bytes != rec->uncompressed_size)
        return rf_fail(msg, RAIIAF_ERECORD,
                       "chunk %zu (LATN \"%.64s\"): shape makes %llu bytes, uncompressed_size says %llu",
                       position, rec->key, (unsigned long long)bytes,
                       (unsigned long long)rec->uncompressed_size);
    return RAIIAF_OK;
}

/* How a LATN chunk's bytes split into the inner header and the data. */
static int parse_latent_split(json_object *obj, rf_record *rec, rf_msg *msg)
{
    size_t position = rec->position;
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
        return RAIIAF_OK;
    }
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
    return RAIIAF_OK;
}

int rf_parse_record(json_object *obj, size_t position, uint64_t file_size,
                    const raiiaf_limits *limits, rf_record *rec, rf_msg *msg)
{
    memset(rec, 0, sizeof *rec);
    rec->position = position;
    rec->obj = obj;
    int err = parse_common(obj, file_size, limits, rec, msg);
    if (!err && rec->type == RF_LATN)
        err = parse_latent_kind(obj, limits, rec, msg);
    if (!err && rec->type == RF_LATN)
        err = parse_latent_split(obj, rec, msg);
    return err;
}

/* extra of a LATN record: shape, dtype and key first and always true to
 * the chunk, then the kept keys. */
static json_object *latent_extra(const rf_record *rec, json_object *kept)
{
    json_object *shape = json_object_new_array();
    for (unsigned i = 0; i < rec->ndim; i++)
        json_object_array_add(shape, json_object_new_int64((int64_t)rec->shape[i]));
    json_object *out = json_object_new_object();
    json_object_object_add(out, "shape", shape);
    json_object_object_add(out, "dtype", json_object_new_string(rf_dtype(rec->dtype)->name));
    json_object_object_add(out, "key", json_object_new_string(rec->key));
    if (kept && json_object_is_type(kept, json_type_object)) {
        json_object_object_foreach(kept, k, v)
        {
            if (strcmp(k, "shape") && strcmp(k, "dtype") && strcmp(k, "key"))
                json_object_object_add(out, k, rf_json_deep_copy(v));
        }
    }
    return out;
}

json_object *rf_record_build(const rf_record *rec, size_t index, json_object *extra)
{
    bool latent = rec->type == RF_LATN;
    char hex[65];
    rf_hex(rec->hash, 32, hex);
    json_object *r = json_object_new_object();
    json_object_object_add(r, "index", json_object_new_int64((int64_t)index));
    json_object_object_add(r, "type", json_object_new_string(rf_type_name(rec->type)));
    json_object_object_add(r, "flags",
                           json_object_new_string(latent ? rf_dtype(rec->dtype)->flags : "0000"));
    json_object_object_add(r, "offset", json_object_new_int64((int64_t)rec->offset));
    json_object_object_add(r, "compressed_size", json_object_new_int64((int64_t)rec->compressed_size));
    json_object_object_add(r, "uncompressed_size",
                           json_object_new_int64((int64_t)rec->uncompressed_size));
    json_object_object_add(r, "hash", json_object_new_string(hex));
    json_object_object_add(r, "extra", latent ? latent_extra(rec, extra) : json_object_new_object());
    json_object_object_add(r, "compressed", json_object_new_boolean(rec->compressed));
    json_object_object_add(r, "len_header",
                           latent ? json_object_new_int64((int64_t)rec->len_header) : NULL);
    json_object_object_add(r, "len_data",
                           latent ? json_object_new_int64((int64_t)rec->len_data) : NULL);
    return r;
}

/* ---- inner headers and payloads ----------------------------------------- */

void rf_inner_build(uint8_t out[RF_INNER_SIZE], int type, int dtype, uint32_t size)
{
    memcpy(out, rf_type_name(type), 4);
    if (type == RF_LATN) {
        memset(out + 4, 0, 4);
        memcpy(out + 4, rf_dtype(dtype)->flags, 3);
    } else {
        memcpy(out + 4, "0000", 4);
    }
    rf_put_le32(out + 8, size);
}

int rf_check_inner(const uint8_t *inner, const rf_record *rec, uint64_t payload_size, rf_msg *msg)
{
    const char *tn = rf_type_name(rec->type);
    if (memcmp(inner, tn, 4))
        return rf_fail(msg, RAIIAF_ECHUNK, "chunk %zu (%s): inner header says type \"%.4s\"",
                       rec->position, tn, (const char *)inner);
    if (rec->type == RF_LATN) {
        const char *want = rf_dtype(rec->dtype)->flags;
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

static int check_digest(const uint8_t h[32], const rf_record *rec, rf_msg *msg)
{
    if (memcmp(h, rec->hash, 32)) {
        char got[65];
        rf_hex(h, 32, got);
        if (rec->type == RF_LATN)
            return rf_fail(msg, RAIIAF_EHASH, "chunk %zu (LATN \"%.40s\"): sha256 mismatch: "
                           "payload is %.12s..., manifest says otherwise", rec->position,
                           rec->key, got);
        return rf_fail(msg, RAIIAF_EHASH, "chunk %zu (%s): sha256 mismatch: payload is %.12s..., "
                       "manifest says otherwise", rec->position, rf_type_name(rec->type), got);
    }
    return RAIIAF_OK;
}

int rf_check_hash(const uint8_t *payload, size_t size, const rf_record *rec, rf_msg *msg)
{
    uint8_t h[32];
    rf_sha256(payload, size, h);
    return check_digest(h, rec, msg);
}

int rf_load_payload(const rf_source *src, const rf_record *rec, int threads, uint8_t **alloc,
                    const uint8_t **payload, rf_msg *msg)
{
    char what[48];
    snprintf(what, sizeof what, "chunk %zu (%s)", rec->position, rf_type_name(rec->type));
    uint64_t total = RF_INNER_SIZE + rec->uncompressed_size;
    if (total > SIZE_MAX - 1)
        return rf_fail(msg, RAIIAF_ELIMIT, "%s: too large for this machine", what);
    uint8_t *buf = rf_malloc_large((size_t)total + 1);
    if (!buf)
        return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory for %llu bytes", what,
                       (unsigned long long)total);
    uint8_t h[32];
    int err = rec->compressed
                  ? rf_unzstd_exact_hashed(src, rec->offset, rec->compressed_size, buf, total,
                                           RF_INNER_SIZE, threads != 1, h, msg, what)
                  : rf_source_read(src, rec->offset, buf, (size_t)total, msg, what);
    if (!err && !rec->compressed)
        rf_sha256(buf + RF_INNER_SIZE, (size_t)rec->uncompressed_size, h);
    if (!err)
        err = rf_check_inner(buf, rec, rec->uncompressed_size, msg);
    if (!err)
        err = check_digest(h, rec, msg);
    if (err) {
        free(buf);
        return err;
    }
    buf[total] = 0; /* JSON payloads read as C strings */
    *alloc = buf;
    *payload = buf + RF_INNER_SIZE;
    return RAIIAF_OK;
}

bool rf_payload_out_of_proportion(const rf_record *rec)
{
    return rec->uncompressed_size > RF_WHOLE_PAYLOAD_MAX &&
           rec->uncompressed_size / RF_WHOLE_PAYLOAD_RATIO > rec->compressed_size;
}

int rf_payload_open(rf_stream *s, const rf_source *src, const rf_record *rec, rf_msg *msg)
{
    char what[48];
    snprintf(what, sizeof what, "chunk %zu (%s)", rec->position, rf_type_name(rec->type));
    uint8_t inner[RF_INNER_SIZE];
    int err = rf_stream_open(s, src, rec->offset, rec->compressed_size, rec->compressed,
                             RF_INNER_SIZE + rec->uncompressed_size, msg, what);
    if (!err)
        err = rf_stream_read(s, inner, RF_INNER_SIZE);
    if (!err)
        err = rf_check_inner(inner, rec, rec->uncompressed_size, msg);
    if (err)
        rf_stream_close(s);
    return err;
}

int rf_payload_check_streamed(const rf_source *src, const rf_record *rec,
                              uint8_t head[RF_PAYLOAD_HEAD], rf_msg *msg)
{
    rf_stream s;
    int err = rf_payload_open(&s, src, rec, msg);
    if (err)
        return err;
    enum { PIECE = 256 * 1024 };
    uint8_t *piece = malloc(PIECE);
    if (!piece) {
        rf_stream_close(&s);
        return rf_fail(msg, RAIIAF_ENOMEM, "chunk %zu: out of memory", rec->position);
    }
    rf_sha256_ctx sha;
    rf_sha256_begin(&sha);
    memset(head, 0, RF_PAYLOAD_HEAD);
    for (uint64_t done = 0; !err && done < rec->uncompressed_size;) {
        uint64_t left = rec->uncompressed_size - done;
        size_t n = left < PIECE ? (size_t)left : PIECE;
        err = rf_stream_read(&s, piece, n);
        if (!err && done == 0)
            memcpy(head, piece, n < RF_PAYLOAD_HEAD ? n : RF_PAYLOAD_HEAD);
        if (!err)
            rf_sha256_update(&sha, piece, n);
        done += n;
    }
    free(piece);
    rf_stream_close(&s);
    if (err)
        return err;
    uint8_t h[32];
    rf_sha256_end(&sha, h);
    return check_digest(h, rec, msg);
}

/* ---- the stored form of a latent ------------------------------------------ */

int rf_stored_pack(const rf_source *src, const rf_record *rec, void **blob, size_t *size,
                   rf_msg *msg)
{
    /* The record without its file position, which means nothing elsewhere. */
    json_object *r = rf_json_deep_copy(rec->obj);
    if (!r)
        return rf_fail(msg, RAIIAF_ENOMEM, "chunk %zu (LATN): out of memory", rec->position);
    json_object_object_del(r, "offset");
    json_object_object_del(r, "index");
    size_t jlen;
    const char *js = json_object_to_json_string_length(r, JSON_C_TO_STRING_PLAIN, &jlen);
    size_t head = RF_STORED_MAGIC_SIZE + 4 + jlen;
    size_t total = head + (size_t)rec->compressed_size;
    uint8_t *b = malloc(total);
    if (!b) {
        json_object_put(r);
        return rf_fail(msg, RAIIAF_ENOMEM, "chunk %zu (LATN): out of memory", rec->position);
    }
    memcpy(b, RF_STORED_MAGIC, RF_STORED_MAGIC_SIZE);
    rf_put_le32(b + RF_STORED_MAGIC_SIZE, (uint32_t)jlen);
    memcpy(b + RF_STORED_MAGIC_SIZE + 4, js, jlen);
    json_object_put(r);
    int err = rf_source_read(src, rec->offset, b + head, (size_t)rec->compressed_size, msg, "latent");
    if (err) {
        free(b);
        return err;
    }
    *blob = b;
    *size = total;
    return RAIIAF_OK;
}

int rf_stored_unpack(const void *blob, size_t size, json_object **root, rf_record *rec,
                     const uint8_t **chunk, size_t *chunk_size, rf_msg *msg)
{
    const uint8_t *b = blob;
    *root = NULL;
    if (size < RF_STORED_MAGIC_SIZE + 4 || memcmp(b, RF_STORED_MAGIC, RF_STORED_MAGIC_SIZE))
        return rf_fail(msg, RAIIAF_EINVAL, "stored latent: not a libraiiaf latent blob");
    uint32_t jlen = rf_get_le32(b + RF_STORED_MAGIC_SIZE);
    if (jlen > size - RF_STORED_MAGIC_SIZE - 4)
        return rf_fail(msg, RAIIAF_ETRUNCATED, "stored latent: blob is truncated");
    *chunk = b + RF_STORED_MAGIC_SIZE + 4 + jlen;
    *chunk_size = size - RF_STORED_MAGIC_SIZE - 4 - jlen;
    json_object *r = rf_json_parse((const char *)b + RF_STORED_MAGIC_SIZE + 4, jlen, msg,
                                   "stored latent record");
    if (!r)
        return RAIIAF_EMANIFEST;
    json_object_object_add(r, "offset", json_object_new_int64(0));
    raiiaf_limits limits;
    raiiaf_limits_default(&limits);
    int err = rf_parse_record(r, 0, 0, &limits, rec, msg);
    if (!err && rec->type != RF_LATN)
        err = rf_fail(msg, RAIIAF_ERECORD, "stored latent: the record is not LATN");
    if (!err && rec->compressed_size != *chunk_size)
        err = rf_fail(msg, RAIIAF_ERECORD, "stored latent: %zu chunk bytes, the record says %llu",
                      *chunk_size, (unsigned long long)rec->compressed_size);
    if (err) {
        json_object_put(r);
        return err;
    }
    *root = r;
    return RAIIAF_OK;
}
