/* libraiiaf internals shared between the reader and the writer. */
#ifndef RAIIAF_INTERNAL_H
#define RAIIAF_INTERNAL_H

#include "raiiaf.h"

#include <json-c/json.h>
#include <zstd.h>
#include <stdarg.h>
#include <stdbool.h>

#define RF_HEADER_SIZE 33
#define RF_INNER_SIZE 12
#define RF_MSG_SIZE 512

/* The reference package's limits for latents it writes. */
#define RF_REF_LATENT_NDIM 4
#define RF_REF_LATENT_MAX_DIM 8192
#define RF_REF_LATENT_MAX_ELEMENTS 100000000ULL

/* ---- error messages (error.c) ---- */
typedef struct rf_msg {
    char text[RF_MSG_SIZE];
} rf_msg;

/* Formats the message and returns err, so that `return rf_fail(...)` reads
 * naturally. */
int rf_fail(rf_msg *msg, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What raiiaf_ctx_message(NULL) and raiiaf_writer_message(NULL) say: a
 * NULL context or writer comes from a failed _new(). */
#define RF_NO_OBJECT_MESSAGE "no context: out of memory"

/* The failure of a public call given a NULL (or empty) argument. */
#define RF_BAD_ARGS(msg) \
    rf_fail((msg), RAIIAF_EINVAL, "%s: an argument is NULL or empty", __func__)

/* ---- small helpers (util.c) ---- */
/* What raiiaf_limits_default() gives: what every reader accepts, and so
 * what every writer must stay within. */
extern const raiiaf_limits rf_default_limits;
void rf_sha256(const void *data, size_t size, uint8_t out[32]);
/* malloc() for a buffer of megabytes that is written once, end to end
 * (a decompressed chunk, an inflated image): backed by huge pages where
 * the system gives them on request, because faulting in 4 KiB pages costs
 * more than filling them (about 40 ms for 48 MiB on a virtual machine).
 * Freed with free(). */
void *rf_malloc_large(size_t size);
/* Faults in a caller's output buffer of megabytes on another thread,
 * while this one inflates: the first write to each 4 KiB page otherwise
 * costs about as much as the unfiltering. The bytes are not changed;
 * rf_prefault_end() returns once it is done (at once if it never began:
 * a small buffer, no thread, no MADV_POPULATE_WRITE). */
typedef struct rf_prefault {
    void *thread; /* a pthread_t, kept out of this header; NULL: none */
    void *start;
    size_t size;
} rf_prefault;
void rf_prefault_begin(rf_prefault *p, void *buf, size_t size);
void rf_prefault_end(rf_prefault *p);
/* sha256 in pieces (storage for nettle's context, kept out of this header). */
typedef struct rf_sha256_ctx {
    _Alignas(8) uint8_t state[128];
} rf_sha256_ctx;
void rf_sha256_begin(rf_sha256_ctx *c);
void rf_sha256_update(rf_sha256_ctx *c, const void *data, size_t size);
void rf_sha256_end(rf_sha256_ctx *c, uint8_t out[32]);
void rf_hex(const uint8_t *bytes, size_t n, char *out /* 2n+1 */);
/* The version of the zfp library loaded, e.g. "1.0.1" (util.c). */
void rf_zfp_version(char *out, size_t size);
bool rf_parse_hex32(const char *hex, uint8_t out[32]);
uint16_t rf_f32_to_f16(float f);   /* round to nearest even, like numpy */
float rf_f16_to_f32(uint16_t h);
void rf_put_le32(uint8_t *p, uint32_t v);
void rf_put_le64(uint8_t *p, uint64_t v);
uint32_t rf_get_le32(const uint8_t *p);
uint64_t rf_get_le64(const uint8_t *p);
/* Converts count elements of elem_size (2 or 4) between little-endian and
 * host order, in place (no-op on little-endian hosts). */
void rf_le_to_host(void *data, size_t count, size_t elem_size);
#define rf_host_to_le rf_le_to_host
bool rf_mul_overflow(uint64_t a, uint64_t b, uint64_t *out);
char *rf_strdup(const char *s);
char *rf_strndup(const char *s, size_t n);
/* ISO 8601 UTC time with microseconds, like Python's
 * datetime.now(timezone.utc).isoformat(): 33 bytes with the NUL. */
void rf_now_iso8601(char out[40]);

/* A growable byte buffer. */
typedef struct rf_buf {
    uint8_t *data;
    size_t size, cap;
} rf_buf;
int rf_buf_append(rf_buf *b, const void *data, size_t size);
void rf_buf_free(rf_buf *b);

/* ---- JSON (json.c) ---- */
/* Strict UTF-8: the offset of the first bad byte, or size. */
size_t rf_utf8_valid_prefix(const unsigned char *s, size_t size);
/* Parses exactly size bytes as one JSON value (depth-limited); NULL with a
 * message on error. */
json_object *rf_json_parse(const char *text, size_t size, rf_msg *msg, const char *what);
/* The same within the JSON limits of *limits (the defaults when NULL):
 * size, depth, values, memory; and standard JSON only (no comments, single
 * quotes, NaN, Infinity, trailing commas). Returns RAIIAF_ELIMIT or
 * RAIIAF_EMANIFEST with a message, *out NULL. rf_json_parse uses the
 * defaults. */
int rf_json_parse_limited(const char *text, size_t size, const raiiaf_limits *limits,
                          json_object **out, rf_msg *msg, const char *what);
/* Serialises like the reference: indented by 2, '/' not escaped. */
const char *rf_json_pretty(json_object *obj, size_t *len);
json_object *rf_json_get(json_object *obj, const char *key); /* NULL if absent */
bool rf_json_get_u64(json_object *obj, const char *key, uint64_t *out);
json_object *rf_json_deep_copy(json_object *obj);
/* A double with its shortest round-tripping text, as Python prints it. */
json_object *rf_json_new_double(double v);

/* ---- where a file's bytes come from (source.c) ---- */
typedef struct rf_source {
    const uint8_t *mem; /* memory source, or NULL */
    int fd;             /* file source, or -1 */
    uint64_t size;
} rf_source;

int rf_source_read(const rf_source *src, uint64_t off, void *buf, size_t len, rf_msg *msg,
                   const char *what);
/* Decompresses the single zstd frame at [off, off+len) into out, which must
 * be exactly `expect` bytes: the frame must record its content size and that
 * size must be `expect`. max_expect guards frames whose size is not known in
 * advance (expect == 0 means "take the frame's own size, up to max_expect",
 * and *got receives it; then out is allocated here). */
int rf_unzstd_exact(const rf_source *src, uint64_t off, uint64_t len, uint8_t *out,
                    uint64_t expect, rf_msg *msg, const char *what);
/* rf_unzstd_exact, and the sha256 of out[skip, expect) into digest. With
 * alongside, a payload of RF_HASH_ALONGSIDE_MIN bytes or more streamed
 * from a file is hashed on a second thread as it is decoded (the two take
 * about as long); otherwise after. */
#define RF_HASH_ALONGSIDE_MIN (4u << 20)
int rf_unzstd_exact_hashed(const rf_source *src, uint64_t off, uint64_t len, uint8_t *out,
                           uint64_t expect, size_t skip, bool alongside, uint8_t digest[32],
                           rf_msg *msg, const char *what);
int rf_unzstd_alloc(const rf_source *src, uint64_t off, uint64_t len, uint64_t max_size,
                    uint8_t **out, uint64_t *got, rf_msg *msg, const char *what);

/* A chunk's bytes decompressed on the way, a piece at a time: memory of a
 * read piece and zstd's window, whatever the chunk's size. */
#define RF_STREAM_WINDOW_LOG_MAX 25
typedef struct rf_stream {
    const rf_source *src;
    uint64_t off, len;        /* the stored bytes */
    uint64_t expect, produced;
    ZSTD_DCtx *dctx;          /* NULL for a chunk stored uncompressed */
    uint8_t *in;
    ZSTD_inBuffer ib;
    uint64_t in_done;
    rf_msg *msg;
    char what[64];
} rf_stream;
int rf_stream_open(rf_stream *s, const rf_source *src, uint64_t off, uint64_t len, bool compressed,
                   uint64_t expect, rf_msg *msg, const char *what);
/* Exactly n more bytes, or an error; after the last byte, checks that the
 * frame ends there. */
int rf_stream_read(rf_stream *s, void *buf, size_t n);
void rf_stream_close(rf_stream *s);

/* ---- element types (dtype.c): the one table of what each dtype is ---- */
typedef struct rf_dtype_desc {
    const char *name;  /* extra.dtype and what people read: "float32" */
    const char *flags; /* the LATN record's flags and inner header: "F32" */
    const char *npy;   /* NumPy descr: "<f4" */
    size_t size;       /* bytes per element */
} rf_dtype_desc;
/* The table's entry, or NULL for an unknown dtype. */
const rf_dtype_desc *rf_dtype(int dtype);
/* The dtype whose flags are `flags`, or -1. */
int rf_dtype_from_flags(const char *flags);

/* ---- the chunk format (chunk.c): every pack beside its unpack ---- */
enum rf_chunk_type { RF_LATN, RF_DATA, RF_ENVC, RF_META };

/* One chunk record of the manifest; the writer keeps its latents in the
 * same form. */
typedef struct rf_record {
    int type;
    size_t position;          /* index in the manifest's chunks array */
    uint64_t offset, compressed_size, uncompressed_size;
    uint8_t hash[32];
    bool compressed;
    uint64_t len_header, len_data; /* LATN only */
    /* LATN only */
    const char *key;          /* points into the JSON, or into fallback_key */
    char fallback_key[32];
    int dtype;
    unsigned ndim;
    uint64_t shape[RAIIAF_MAX_DIMS];
    json_object *obj;         /* the record object (borrowed) */
} rf_record;

const char *rf_type_name(int type);

/* The 33-byte file header. */
void rf_header_parse(const uint8_t b[RF_HEADER_SIZE], raiiaf_header *h);
void rf_header_build(uint8_t b[RF_HEADER_SIZE], uint32_t meta_offset, uint32_t meta_size,
                     uint32_t chunk_count, uint64_t file_size);

/* Parses and checks one record of the manifest against the file size and
 * limits; file_size 0 skips the bounds checks (for stored blobs). */
int rf_parse_record(json_object *obj, size_t position, uint64_t file_size,
                    const raiiaf_limits *limits, rf_record *rec, rf_msg *msg);
/* The record as the manifest stores it, at `index` and `offset`; for a
 * LATN record with `extra` (kept keys, may be NULL) under shape, dtype and
 * key. */
json_object *rf_record_build(const rf_record *rec, size_t index, json_object *extra);

/* A chunk's 12-byte inner header: type, flags (a LATN's dtype flags,
 * "0000" otherwise), payload size. */
void rf_inner_build(uint8_t out[RF_INNER_SIZE], int type, int dtype, uint32_t size);
/* Reads a chunk's inner header at buf and checks it against the record. */
int rf_check_inner(const uint8_t *inner, const rf_record *rec, uint64_t payload_size,
                   rf_msg *msg);

/* EHASH naming the record unless the sha256 of payload is rec->hash. */
int rf_check_hash(const uint8_t *payload, size_t size, const rf_record *rec, rf_msg *msg);

/* Reads, decompresses and checks a DATA or ENVC payload (sha256 included).
 * *payload points into *alloc (free that). */
int rf_load_payload(const rf_source *src, const rf_record *rec, int threads, uint8_t **alloc,
                    const uint8_t **payload, rf_msg *msg);

/* A payload that inflates out of proportion to its stored size (a few kB
 * claiming a GiB) is never held whole: it is checked in one streamed pass
 * and decoded from the stream. */
#define RF_WHOLE_PAYLOAD_MAX (16u << 20)
#define RF_WHOLE_PAYLOAD_RATIO 8
bool rf_payload_out_of_proportion(const rf_record *rec);
/* A stream positioned after the checked inner header. */
int rf_payload_open(rf_stream *s, const rf_source *src, const rf_record *rec, rf_msg *msg);
/* Reads the whole payload through the stream: inner header, sizes and
 * sha256 checked; its first RF_PAYLOAD_HEAD bytes (a PNG's signature and
 * IHDR) kept in head. */
#define RF_PAYLOAD_HEAD 32
int rf_payload_check_streamed(const rf_source *src, const rf_record *rec,
                              uint8_t head[RF_PAYLOAD_HEAD], rf_msg *msg);

/* The stored form of a latent (see core/README.md): the record without
 * offset and index, then the chunk's bytes. */
#define RF_STORED_MAGIC "RAIIAFLT"
#define RF_STORED_MAGIC_SIZE 8
/* Packs the blob; the chunk's bytes are read from src at rec->offset. */
int rf_stored_pack(const rf_source *src, const rf_record *rec, void **blob, size_t *size,
                   rf_msg *msg);
/* Unpacks and checks the record of a blob: *root is the record's JSON (put
 * it when done: rec borrows from it), *chunk and *chunk_size its bytes. */
int rf_stored_unpack(const void *blob, size_t size, json_object **root, rf_record *rec,
                     const uint8_t **chunk, size_t *chunk_size, rf_msg *msg);

/* ---- latents (latent.c) ---- */
int rf_latent_decode(const rf_source *src, const rf_record *rec, void *out, size_t out_size,
                     rf_msg *msg);
/* The index of the first NaN or infinite element, or count. */
uint64_t rf_latent_first_nonfinite(int dtype, const void *data, uint64_t count);
/* Decodes into a scratch buffer: every check of rf_latent_decode. */
int rf_latent_check(const rf_source *src, const rf_record *rec, rf_msg *msg);
/* Encodes an array of rec's dtype and shape (host order) as a LATN chunk:
 * *bytes as stored in the file; sets rec's compressed, compressed_size,
 * len_header and len_data. */
int rf_latent_encode(rf_record *rec, const void *data, int storage, uint8_t **bytes,
                     rf_msg *msg);

/* ---- the text keys (text.c): model_info fields <-> raiiaf_get_text keys ---- */
typedef struct rf_text_field {
    const char *json; /* model_info key */
    const char *key;  /* text key */
} rf_text_field;
extern const rf_text_field rf_text_fields[];
extern const size_t rf_text_field_count;
/* The model_info objects whose members are text keys, with their prefix. */
extern const rf_text_field rf_text_sections[];
extern const size_t rf_text_section_count;

/* ---- PNG text (pngmeta.c) ---- */
/* Inflates a zlib stream into a malloc'd, NUL-terminated buffer of at
 * most cap_max bytes. */
enum { RF_INFLATE_OK = 0, RF_INFLATE_TOO_LARGE = 1, RF_INFLATE_CORRUPT = -1,
       RF_INFLATE_NOMEM = -2 };
int rf_inflate_capped(const uint8_t *data, size_t size, size_t cap_max, char **out,
                      size_t *out_size);
/* Latin-1 (tEXt, zTXt) as UTF-8, malloc'd; *out_size may be NULL. */
char *rf_latin1_to_utf8(const uint8_t *s, size_t n, size_t *out_size);
/* The image img with its text chunks (XMP aside) replaced by those of src
 * as raiiaf_writer_keep_png_texts() chooses them; *out malloc'd. */
int rf_png_keep_texts(const uint8_t *img, size_t img_size, const uint8_t *src, size_t src_size,
                      const raiiaf_png_text *now, size_t now_count, const raiiaf_png_text *read,
                      size_t read_count, uint8_t **out, size_t *out_size, rf_msg *msg);

/* ---- the AI tools' PNG text (aimeta.c) ---- */
/* Recognises the tools' layouts in a PNG's text chunks (or in texts a host
 * gives), fills the empty fields of model_info and records the chunks as
 * extras.ai_metadata. Unreadable or unknown texts never fail. */
int rf_ai_import_png(json_object *model_info, json_object *extras, const uint8_t *png,
                     size_t size, bool in_image, rf_msg *msg);
int rf_ai_import_texts(json_object *model_info, json_object *extras,
                       const raiiaf_png_text *texts, size_t count, rf_msg *msg);

/* ---- PNG (image.c) ---- */
/* What a pixel format (enum raiiaf_format) holds. */
static inline bool rf_format_has_alpha(int f)
{
    return f == RAIIAF_FMT_GA8 || f == RAIIAF_FMT_RGBA8 || f == RAIIAF_FMT_GA16 ||
           f == RAIIAF_FMT_RGBA16;
}

static inline bool rf_format_is_color(int f)
{
    return f == RAIIAF_FMT_RGB8 || f == RAIIAF_FMT_RGBA8 || f == RAIIAF_FMT_RGB16 ||
           f == RAIIAF_FMT_RGBA16;
}

static inline bool rf_format_is_16(int f)
{
    return f >= RAIIAF_FMT_G16 && f <= RAIIAF_FMT_RGBA16;
}

typedef struct rf_png_rows rf_png_rows;
void rf_png_rows_free(rf_png_rows *r);
/* Where PNG bytes come from: memory, or (rec set) the image chunk of src,
 * decompressed on the way; head holds its first bytes. */
typedef struct rf_png_in {
    const uint8_t *data;
    size_t size;
    const rf_source *src;
    const rf_record *rec;
    uint8_t head[RF_PAYLOAD_HEAD];
} rf_png_in;
int rf_png_info(const rf_png_in *in, const raiiaf_limits *limits, raiiaf_image_info *info,
                uint8_t **icc, size_t *icc_size, char **icc_name, rf_msg *msg);
/* Decodes the pixels into out; with out NULL, decodes every row and keeps
 * none: the check of raiiaf_verify(), in the memory of one row. */
int rf_png_decode(const rf_png_in *in, const raiiaf_limits *limits, int format, void *out,
                  size_t out_size, rf_msg *msg);
/* rf_png_decode through a given path: RF_PNG_AUTO (libdeflate where
 * pngfast.c covers the image, libpng otherwise), RF_PNG_LIBPNG (libpng
 * only), RF_PNG_FAST (libdeflate only: RAIIAF_EUNSUPPORTED where it does
 * not cover the image). The tests compare the two. RF_PNG_ONE_THREAD,
 * added to any of them, keeps the work on the calling thread
 * (raiiaf_ctx_set_threads). */
enum { RF_PNG_AUTO, RF_PNG_LIBPNG, RF_PNG_FAST, RF_PNG_PATH = 0xff, RF_PNG_ONE_THREAD = 0x100 };
int rf_png_decode_how(const rf_png_in *in, const raiiaf_limits *limits, int format, void *out,
                      size_t out_size, int how, rf_msg *msg);
int rf_png_encode(const raiiaf_pixels *px, int level, uint8_t **png, size_t *png_size,
                  rf_msg *msg);
bool rf_is_png(const uint8_t *data, size_t size);

/* ---- the reader context (reader.c) ---- */

/* A payload or result loaded once and kept, with the failure it gave: the
 * image, its PNG header, the environment. */
typedef struct rf_cached {
    int state;                 /* 0 not loaded, 1 loaded, <0 -error */
    rf_msg msg;                /* the failure's message */
} rf_cached;
#define RF_CACHE_EMPTY (-1)
/* RF_CACHE_EMPTY when nothing was loaded yet; otherwise the kept result,
 * with its message copied to *out on failure. */
int rf_cached_get(const rf_cached *c, rf_msg *out);
/* Keeps err (its message is c->msg, where the loader wrote it) and returns
 * it, the message copied to *out on failure. */
int rf_cached_set(rf_cached *c, int err, rf_msg *out);

typedef struct rf_text_pair {
    char *key, *value;
} rf_text_pair;

struct raiiaf_ctx {
    raiiaf_limits limits;
    rf_msg msg;
    enum { RF_NEW, RF_OPEN, RF_BROKEN } state;
    rf_source src;
    int own_fd;
    raiiaf_header header;

    char *manifest_text;
    size_t manifest_size;
    json_object *manifest;     /* root */
    json_object *meta;         /* root.raiiaf_metadata */
    rf_record *records;
    size_t record_count;
    size_t *latents;           /* record positions of LATN records */
    size_t latent_count;
    long data_record, env_record;

    /* loaded on demand */
    uint8_t *image_alloc;
    const uint8_t *image;      /* NULL while the image is streamed */
    size_t image_size;
    rf_png_in image_in;        /* what PNG decoding reads */
    rf_cached image_cache;
    rf_cached info_cache;      /* the PNG header */
    raiiaf_image_info info;
    uint8_t *icc;
    size_t icc_size;
    char *icc_name;

    uint8_t *env_alloc;
    char *env_text;
    size_t env_size;
    rf_cached env_cache;
    json_object *env;          /* parsed once, when loaded */

    rf_png_rows *rows;         /* row-by-row decoding under way */
    uint64_t row_buffer_limit; /* raiiaf_ctx_set_row_buffer_limit; 0: default */
    int threads;               /* raiiaf_ctx_set_threads; 0: default */

    rf_text_pair *texts;
    rf_text_pair *texts_sorted; /* the same strings, sorted by key */
    size_t text_count;
    bool texts_built;
    char *parameters;
};

int rf_ctx_load_image(raiiaf_ctx *ctx);
int rf_ctx_load_env(raiiaf_ctx *ctx);
int rf_ctx_check(raiiaf_ctx *ctx); /* EBADSTATE unless open */

#endif
