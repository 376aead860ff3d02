#include "craft.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
    craft_png_out *b = png_get_io_ptr(png);
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

void craft_png_to_memory(png_structp png, craft_png_out *out)
{
    png_set_write_fn(png, out, png_write_cb, png_flush_cb);
}

static json_object *chunk_record(json_object *manifest, size_t index)
{
    json_object *chunks = json_object_object_get(json_object_object_get(manifest, "raiiaf_metadata"),
                                                 "chunks");
    return json_object_array_get_idx(chunks, index);
}

static size_t record_of_type(json_object *manifest, const char *type)
{
    for (size_t i = 0;; i++) {
        json_object *r = chunk_record(manifest, i);
        if (!r)
            return (size_t)-1;
        if (!strcmp(json_object_get_string(json_object_object_get(r, "type")), type))
            return i;
    }
}

tl_bytes craft_many_settings(const tl_bytes *good, size_t count)
{
    json_object *m = tl_manifest(good);
    json_object *mi = json_object_object_get(json_object_object_get(m, "raiiaf_metadata"),
                                             "model_info");
    json_object *gs = json_object_new_object();
    json_object_object_add(gs, "seed", json_object_new_int(42));
    json_object_object_add(gs, "steps", json_object_new_int(20));
    json_object_object_add(gs, "sampler", json_object_new_string("euler"));
    char key[32];
    for (size_t i = 0; i < count; i++) {
        snprintf(key, sizeof key, "key_%zu", i);
        json_object_object_add(gs, key, json_object_new_int64((int64_t)i));
    }
    json_object_object_add(mi, "generation_settings", gs);
    tl_bytes out = tl_with_manifest(good, m);
    json_object_put(m);
    return out;
}

tl_bytes craft_latent_shape(const tl_bytes *good, size_t index, const uint64_t *shape, unsigned ndim)
{
    json_object *m = tl_manifest(good);
    json_object *extra = json_object_object_get(chunk_record(m, index), "extra");
    json_object *s = json_object_new_array();
    for (unsigned i = 0; i < ndim; i++)
        json_object_array_add(s, json_object_new_int64((int64_t)shape[i]));
    json_object_object_add(extra, "shape", s);
    tl_bytes out = tl_with_manifest(good, m);
    json_object_put(m);
    return out;
}

tl_bytes craft_latent_value(const tl_bytes *good, size_t index, size_t element, float value)
{
    json_object *m = tl_manifest(good);
    uint64_t off, size;
    tl_record_span(m, index, &off, &size);
    tl_bytes copy = tl_copy(good->data, good->size);
    uint8_t *payload = copy.data + off + 12;
    memcpy(payload + 4 * element, &value, 4); /* little-endian hosts */
    char hex[65];
    tl_sha256_hex(payload, (size_t)size - 12, hex);
    json_object_object_add(chunk_record(m, index), "hash", json_object_new_string(hex));
    tl_bytes out = tl_with_manifest(&copy, m);
    free(copy.data);
    json_object_put(m);
    return out;
}

tl_bytes craft_duplicate_keys(const tl_bytes *good)
{
    json_object *m = tl_manifest(good);
    json_object *first = json_object_object_get(chunk_record(m, 0), "extra");
    json_object *second = json_object_object_get(chunk_record(m, 1), "extra");
    json_object_object_add(second, "key", json_object_get(json_object_object_get(first, "key")));
    tl_bytes out = tl_with_manifest(good, m);
    json_object_put(m);
    return out;
}

tl_bytes craft_png_of(const tl_bytes *good)
{
    json_object *m = tl_manifest(good);
    uint64_t off, size;
    tl_record_span(m, record_of_type(m, "DATA"), &off, &size);
    unsigned long long cs = ZSTD_getFrameContentSize(good->data + off, (size_t)size);
    uint8_t *raw = malloc(cs);
    ZSTD_decompress(raw, cs, good->data + off, (size_t)size);
    tl_bytes png = tl_copy(raw + 12, cs - 12);
    free(raw);
    json_object_put(m);
    return png;
}

tl_bytes craft_broken_pixels(const tl_bytes *good)
{
    tl_bytes png = craft_png_of(good);
    for (size_t pos = 8; pos + 12 <= png.size;) {
        uint8_t *c = png.data + pos;
        uint32_t len = (uint32_t)c[0] << 24 | c[1] << 16 | c[2] << 8 | c[3];
        if (!memcmp(c + 4, "IDAT", 4)) {
            /* Past the zlib header: deflate codes that cannot be. */
            size_t from = len / 3, n = len / 3 < 64 ? len / 3 : 64;
            memset(c + 8 + from, 0xff, n);
            uint32_t crc = tl_crc32(c + 4, 4 + len);
            uint8_t *q = c + 8 + len;
            q[0] = (uint8_t)(crc >> 24), q[1] = (uint8_t)(crc >> 16);
            q[2] = (uint8_t)(crc >> 8), q[3] = (uint8_t)crc;
            break;
        }
        pos += 12 + len;
    }
    tl_bytes out = craft_image(good, png.data, png.size, 0);
    free(png.data);
    return out;
}

tl_bytes craft_image(const tl_bytes *good, const void *png, size_t png_size, uint64_t zeros)
{
    uint64_t total = 12 + png_size + zeros;
    uint8_t inner[12] = {'D', 'A', 'T', 'A', '0', '0', '0', '0'};
    for (int i = 0; i < 4; i++)
        inner[8 + i] = (uint8_t)((png_size + zeros) >> (8 * i));
    static const uint8_t zero_piece[1 << 16];
    struct sha256_ctx sha;
    sha256_init(&sha);
    sha256_update(&sha, png_size, png);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setPledgedSrcSize(cctx, total);
    tl_bytes out = {NULL, 0};
    size_t cap = ZSTD_compressBound(12 + png_size) + (size_t)(zeros / 1000) + (1 << 20);
    uint8_t *buf = malloc(cap);
    ZSTD_outBuffer ob = {buf, cap, 0};
    ZSTD_inBuffer in1 = {inner, 12, 0};
    ZSTD_compressStream2(cctx, &ob, &in1, ZSTD_e_continue);
    ZSTD_inBuffer in2 = {png, png_size, 0};
    while (in2.pos < in2.size)
        ZSTD_compressStream2(cctx, &ob, &in2, ZSTD_e_continue);
    for (uint64_t left = zeros; left;) {
        size_t n = left < sizeof zero_piece ? (size_t)left : sizeof zero_piece;
        sha256_update(&sha, n, zero_piece);
        ZSTD_inBuffer z = {zero_piece, n, 0};
        while (z.pos < z.size)
            ZSTD_compressStream2(cctx, &ob, &z, ZSTD_e_continue);
        left -= n;
    }
    ZSTD_inBuffer none = {NULL, 0, 0};
    while (ZSTD_compressStream2(cctx, &ob, &none, ZSTD_e_end) != 0)
        ;
    ZSTD_freeCCtx(cctx);
    uint8_t digest[32];
    sha256_digest(&sha, 32, digest);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    tl_bytes chunk = {buf, ob.pos};
    json_object *m = tl_manifest(good);
    out = tl_replace_chunk(good, m, record_of_type(m, "DATA"), &chunk, png_size + zeros, hex);
    json_object_put(m);
    free(buf);
    return out;
}
