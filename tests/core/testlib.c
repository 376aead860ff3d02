#include "testlib.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int tl_passed, tl_failed;

int tl_finish(void)
{
    printf("%d passed, %d failed\n", tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}

tl_bytes tl_read_file(const char *path)
{
    tl_bytes b = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc(n > 0 ? (size_t)n : 1);
    if (b.data && fread(b.data, 1, (size_t)n, f) == (size_t)n)
        b.size = (size_t)n;
    fclose(f);
    return b;
}

bool tl_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

tl_bytes tl_copy(const void *data, size_t size)
{
    tl_bytes b = {malloc(size ? size : 1), size};
    memcpy(b.data, data, size);
    return b;
}

void tl_sha256_hex(const void *data, size_t size, char out[65])
{
    struct sha256_ctx c;
    uint8_t h[32];
    sha256_init(&c);
    sha256_update(&c, size, data);
    sha256_digest(&c, 32, h);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

json_object *tl_read_json(const char *path)
{
    return json_object_from_file(path);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

tl_bytes tl_zstd_chunk(const char *type, const char *flags, const void *payload, size_t size)
{
    size_t n = 12 + size;
    uint8_t *raw = malloc(n);
    memcpy(raw, type, 4);
    memcpy(raw + 4, flags, 4);
    put32(raw + 8, (uint32_t)size);
    memcpy(raw + 12, payload, size);
    tl_bytes out = {malloc(ZSTD_compressBound(n)), 0};
    out.size = ZSTD_compress(out.data, ZSTD_compressBound(n), raw, n, 3);
    free(raw);
    return out;
}

json_object *tl_manifest(const tl_bytes *file)
{
    uint32_t off = get32(file->data + 9), len = get32(file->data + 13);
    unsigned long long cs = ZSTD_getFrameContentSize(file->data + off, len);
    uint8_t *raw = malloc(cs + 1);
    ZSTD_decompress(raw, cs, file->data + off, len);
    raw[cs] = 0;
    json_object *m = json_tokener_parse((char *)raw + 12);
    free(raw);
    return m;
}

tl_bytes tl_with_manifest(const tl_bytes *file, json_object *manifest)
{
    uint32_t off = get32(file->data + 9);
    json_object *chunks = json_object_object_get(json_object_object_get(manifest, "raiiaf_metadata"),
                                                 "chunks");
    size_t jlen;
    const char *js = json_object_to_json_string_length(manifest, JSON_C_TO_STRING_PRETTY, &jlen);
    tl_bytes meta = tl_zstd_chunk("META", "0000", js, jlen);
    tl_bytes out = {malloc(off + meta.size), off + meta.size};
    memcpy(out.data, file->data, off);
    memcpy(out.data + off, meta.data, meta.size);
    put32(out.data + 13, (uint32_t)meta.size);
    put32(out.data + 17, json_object_is_type(chunks, json_type_array)
                           ? (uint32_t)json_object_array_length(chunks) : 0);
    uint64_t total = out.size;
    for (int i = 0; i < 8; i++)
        out.data[21 + i] = (uint8_t)(total >> (8 * i));
    free(meta.data);
    return out;
}

void tl_record_span(json_object *manifest, size_t index, uint64_t *offset, uint64_t *size)
{
    json_object *chunks = json_object_object_get(json_object_object_get(manifest, "raiiaf_metadata"),
                                                 "chunks");
    json_object *r = json_object_array_get_idx(chunks, index);
    *offset = (uint64_t)json_object_get_int64(json_object_object_get(r, "offset"));
    *size = (uint64_t)json_object_get_int64(json_object_object_get(r, "compressed_size"));
}

tl_bytes tl_replace_chunk(const tl_bytes *file, json_object *manifest, size_t index,
                          const tl_bytes *chunk, uint64_t uncompressed_size, const char *hash_hex)
{
    json_object *chunks = json_object_object_get(json_object_object_get(manifest, "raiiaf_metadata"),
                                                 "chunks");
    size_t n = json_object_array_length(chunks);
    tl_bytes tmp = {malloc(file->size + chunk->size + 33), 0};
    memcpy(tmp.data, file->data, 33);
    size_t off = 33;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(chunks, i);
        uint64_t o, size;
        tl_record_span(manifest, i, &o, &size);
        const uint8_t *bytes = file->data + o;
        if (i == index) {
            bytes = chunk->data;
            size = chunk->size;
            json_object_object_add(r, "compressed_size", json_object_new_int64((int64_t)size));
            json_object_object_add(r, "uncompressed_size",
                                   json_object_new_int64((int64_t)uncompressed_size));
            json_object_object_add(r, "hash", json_object_new_string(hash_hex));
        }
        json_object_object_add(r, "offset", json_object_new_int64((int64_t)off));
        memcpy(tmp.data + off, bytes, size);
        off += size;
    }
    put32(tmp.data + 9, (uint32_t)off);
    tmp.size = off;
    tl_bytes out = tl_with_manifest(&tmp, manifest);
    free(tmp.data);
    return out;
}

uint32_t tl_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}
