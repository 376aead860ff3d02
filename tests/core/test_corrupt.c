/* Files that lie: each kind of corruption gives its error, never a crash,
 * and nothing is allocated for sizes the file merely claims. */
#include "raiiaf.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

/* Opens and reads everything; returns the first error. */
static int read_all(const tl_bytes *b, char *msg, size_t msg_size)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int err = raiiaf_open_memory(ctx, b->data, b->size);
    if (!err)
        err = raiiaf_verify(ctx);
    if (!err) {
        raiiaf_image_info info;
        size_t need;
        err = raiiaf_get_image_info(ctx, &info);
        if (!err)
            err = raiiaf_decoded_image_size(ctx, RAIIAF_FMT_RGBA16, &need);
        if (!err) {
            void *px = malloc(need);
            err = raiiaf_decode_image(ctx, RAIIAF_FMT_RGBA16, px, need);
            free(px);
        }
    }
    if (msg)
        snprintf(msg, msg_size, "%s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    return err;
}

static void expect(const tl_bytes *b, int want, const char *what, const char *name)
{
    char msg[600];
    int got = read_all(b, msg, sizeof msg);
    CHECK(got == want, "%s: %s: expected %s, got %s (%s)", name, what, raiiaf_strerror(want),
          raiiaf_strerror(got), msg);
    CHECK(got == RAIIAF_OK || msg[0], "%s: %s: the error has a message", name, what);
}

static void expect_any_error(const tl_bytes *b, const char *what, const char *name)
{
    char msg[600];
    int got = read_all(b, msg, sizeof msg);
    CHECK(got != RAIIAF_OK && msg[0], "%s: %s: accepted", name, what);
}

static bool same_latents(const tl_bytes *a, const tl_bytes *b)
{
    raiiaf_ctx *ca = raiiaf_ctx_new(), *cb = raiiaf_ctx_new();
    bool same = !raiiaf_open_memory(ca, a->data, a->size) && !raiiaf_open_memory(cb, b->data, b->size);
    size_t n = 0, m = 0;
    raiiaf_get_latent_count(ca, &n);
    raiiaf_get_latent_count(cb, &m);
    same = same && n == m;
    for (size_t i = 0; same && i < n; i++) {
        raiiaf_latent_info li;
        raiiaf_get_latent_info(ca, i, &li);
        void *va = malloc(li.decoded_size), *vb = malloc(li.decoded_size);
        same = !raiiaf_decode_latent(ca, i, va, li.decoded_size) &&
               !raiiaf_decode_latent(cb, i, vb, li.decoded_size) && !memcmp(va, vb, li.decoded_size);
        free(va);
        free(vb);
    }
    raiiaf_ctx_free(ca);
    raiiaf_ctx_free(cb);
    return same;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static json_object *records(json_object *m)
{
    return json_object_object_get(json_object_object_get(m, "raiiaf_metadata"), "chunks");
}

static json_object *record_at(json_object *m, size_t i)
{
    return json_object_array_get_idx(records(m), i);
}

/* The file with record `index`'s chunk replaced by `chunk`; later chunks
 * move, and their records with them. */
static tl_bytes replace_chunk(const tl_bytes *file, size_t index, const void *chunk, size_t size,
                              void (*edit)(json_object *rec, void *user), void *user)
{
    json_object *m = tl_manifest(file);
    uint64_t off, old;
    tl_record_span(m, index, &off, &old);
    uint32_t meta_off = (uint32_t)file->data[9] | (uint32_t)file->data[10] << 8 |
                        (uint32_t)file->data[11] << 16 | (uint32_t)file->data[12] << 24;
    size_t new_meta_off = meta_off - old + size;
    tl_bytes body = {malloc(new_meta_off + 64), new_meta_off};
    memcpy(body.data, file->data, off);
    memcpy(body.data + off, chunk, size);
    memcpy(body.data + off + size, file->data + off + old, meta_off - off - old);
    put32(body.data + 9, (uint32_t)new_meta_off);
    json_object *recs = records(m);
    for (size_t i = 0; i < json_object_array_length(recs); i++) {
        json_object *r = json_object_array_get_idx(recs, i);
        int64_t o = json_object_get_int64(json_object_object_get(r, "offset"));
        if ((uint64_t)o > off)
            json_object_object_add(r, "offset", json_object_new_int64(o - (int64_t)old + (int64_t)size));
    }
    json_object *r = json_object_array_get_idx(recs, index);
    json_object_object_add(r, "compressed_size", json_object_new_int64((int64_t)size));
    if (edit)
        edit(r, user);
    tl_bytes out = tl_with_manifest(&body, m);
    json_object_put(m);
    free(body.data);
    return out;
}

static size_t find_record(json_object *m, const char *type)
{
    json_object *recs = records(m);
    for (size_t i = 0; i < json_object_array_length(recs); i++)
        if (!strcmp(json_object_get_string(json_object_object_get(json_object_array_get_idx(recs, i), "type")),
                    type))
            return i;
    return (size_t)-1;
}

typedef struct payload_edit {
    uint64_t usize;
    char hash[65];
} payload_edit;

static void set_payload(json_object *r, void *user)
{
    payload_edit *e = user;
    json_object_object_add(r, "uncompressed_size", json_object_new_int64((int64_t)e->usize));
    json_object_object_add(r, "hash", json_object_new_string(e->hash));
}

static void set_len_header(json_object *r, void *user)
{
    int64_t lh = *(int64_t *)user;
    int64_t cs = json_object_get_int64(json_object_object_get(r, "compressed_size"));
    json_object_object_add(r, "len_header", json_object_new_int64(lh));
    json_object_object_add(r, "len_data", json_object_new_int64(cs - lh));
}

static tl_bytes edited(const tl_bytes *file, size_t index, const char *key, json_object *value)
{
    json_object *m = tl_manifest(file);
    json_object *r = index == (size_t)-1 ? json_object_object_get(m, "raiiaf_metadata")
                                         : record_at(m, index);
    if (value)
        json_object_object_add(r, key, value);
    else
        json_object_object_del(r, key);
    tl_bytes out = tl_with_manifest(file, m);
    json_object_put(m);
    return out;
}

static void truncations(const tl_bytes *f, json_object *m, const char *name)
{
    size_t n = json_object_array_length(records(m));
    for (size_t i = 0; i <= n; i++) {
        uint64_t off, size;
        if (i < n)
            tl_record_span(m, i, &off, &size);
        else
            off = f->size - 40, size = 40; /* inside META */
        size_t cuts[] = {off, off + size / 2, off + size - 1};
        for (size_t c = 0; c < 3; c++) {
            tl_bytes t = tl_copy(f->data, cuts[c]);
            expect(&t, RAIIAF_ETRUNCATED, "truncated", name);
            /* The same with a header that agrees with the short file. */
            for (int k = 0; k < 8; k++)
                t.data[21 + k] = (uint8_t)((uint64_t)t.size >> (8 * k));
            expect_any_error(&t, "truncated, header patched", name);
            free(t.data);
        }
    }
    for (size_t cut = 0; cut < 33; cut += 8) {
        tl_bytes t = tl_copy(f->data, cut);
        expect(&t, cut < 6 ? RAIIAF_EMAGIC : RAIIAF_ETRUNCATED, "cut in the header", name);
        free(t.data);
    }
}

static void bit_flips(const tl_bytes *f, json_object *m, const char *name)
{
    size_t n = json_object_array_length(records(m));
    for (size_t i = 0; i < n; i++) {
        uint64_t off, size;
        tl_record_span(m, i, &off, &size);
        /* Early in the chunk: a zfp stream of a (1, C, H, W) latent pads N to
         * 4, and damage in the padding changes no value, so no check can
         * see it; the real values come first. */
        uint64_t at[] = {off, off + 5, off + size / 8, off + size / 5};
        for (size_t k = 0; k < 4; k++) {
            tl_bytes t = tl_copy(f->data, f->size);
            t.data[at[k]] ^= 0x10;
            char what[64];
            snprintf(what, sizeof what, "flipped bit in chunk %zu at +%llu", i,
                     (unsigned long long)(at[k] - off));
            if (read_all(&t, NULL, 0) == RAIIAF_OK)
                /* Accepted only if no value changed (damage in zfp's
                 * padding of partial blocks). */
                CHECK(same_latents(f, &t), "%s: %s: accepted with other values", name, what);
            else
                expect_any_error(&t, what, name);
            free(t.data);
        }
    }
    /* META: the manifest itself */
    uint32_t meta = (uint32_t)f->data[9] | (uint32_t)f->data[10] << 8 | (uint32_t)f->data[11] << 16;
    /* The format keeps no checksum of the manifest: damage that leaves
     * valid JSON cannot be seen, but must never crash. */
    for (size_t at = meta + 4; at < f->size; at += (f->size - meta) / 7 + 1) {
        tl_bytes t = tl_copy(f->data, f->size);
        t.data[at] ^= 0x01;
        read_all(&t, NULL, 0);
        free(t.data);
    }
    tl_bytes zm = tl_copy(f->data, f->size);
    zm.data[meta] ^= 0x01;
    expect(&zm, RAIIAF_EZSTD, "META not a zstd frame", name);
    free(zm.data);
    /* the header's fields */
    struct { size_t at; uint8_t x; int want; } hdr[] = {
        {0, 0x20, RAIIAF_EMAGIC},   {6, 0x02, RAIIAF_EVERSION}, {9, 0x01, -1},
        {13, 0x01, -1},             {17, 0x01, RAIIAF_EHEADER}, {21, 0x01, -1},
        {24, 0x10, RAIIAF_ETRUNCATED},
    };
    for (size_t k = 0; k < sizeof hdr / sizeof hdr[0]; k++) {
        tl_bytes t = tl_copy(f->data, f->size);
        t.data[hdr[k].at] ^= hdr[k].x;
        if (hdr[k].want < 0)
            expect_any_error(&t, "flipped header field", name);
        else
            expect(&t, hdr[k].want, "flipped header field", name);
        free(t.data);
    }
}

static void lying_records(const tl_bytes *f, json_object *m, const char *name)
{
    size_t data = find_record(m, "DATA"), latn = find_record(m, "LATN");
    tl_bytes t;

    t = edited(f, data, "offset", json_object_new_int64((int64_t)f->size));
    expect(&t, RAIIAF_ERECORD, "offset past the end", name);
    free(t.data);
    t = edited(f, data, "offset", json_object_new_int64(3));
    expect(&t, RAIIAF_ERECORD, "offset inside the header", name);
    free(t.data);
    t = edited(f, data, "offset", json_object_new_int64(-5));
    expect(&t, RAIIAF_EMANIFEST, "negative offset", name);
    free(t.data);
    t = edited(f, data, "compressed_size", json_object_new_int64(1LL << 40));
    expect(&t, RAIIAF_ERECORD, "compressed_size past the end", name);
    free(t.data);
    t = edited(f, data, "uncompressed_size", json_object_new_int64(1000));
    expect(&t, RAIIAF_EZSTD, "uncompressed_size lies (DATA)", name);
    free(t.data);
    t = edited(f, data, "uncompressed_size", json_object_new_int64(1LL << 33));
    expect(&t, RAIIAF_ELIMIT, "uncompressed_size over the limit", name);
    free(t.data);
    t = edited(f, data, "hash", json_object_new_string(
                                  "0000000000000000000000000000000000000000000000000000000000000000"));
    expect(&t, RAIIAF_EHASH, "DATA hash lies", name);
    free(t.data);
    t = edited(f, data, "hash", json_object_new_string("abc"));
    expect(&t, RAIIAF_EMANIFEST, "DATA hash malformed", name);
    free(t.data);
    t = edited(f, data, "type", json_object_new_string("XXXX"));
    expect(&t, RAIIAF_ERECORD, "unknown chunk type", name);
    free(t.data);
    t = edited(f, find_record(m, "ENVC"), "type", json_object_new_string("DATA"));
    expect(&t, RAIIAF_ERECORD, "two DATA chunks", name);
    free(t.data);
    t = edited(f, data, "compressed", json_object_new_boolean(0));
    expect(&t, RAIIAF_ERECORD, "compressed flag lies", name);
    free(t.data);
    t = edited(f, (size_t)-1, "chunks", json_object_new_string("no"));
    expect(&t, RAIIAF_EMANIFEST, "chunks not an array", name);
    free(t.data);

    /* a count that lies: header patched after the manifest */
    t = tl_copy(f->data, f->size);
    put32(t.data + 17, (uint32_t)json_object_array_length(records(m)) + 1);
    expect(&t, RAIIAF_EHEADER, "chunk_count lies", name);
    free(t.data);
    t = tl_copy(f->data, f->size);
    put32(t.data + 17, 0xffffffffu);
    expect(&t, RAIIAF_ELIMIT, "chunk_count huge", name);
    free(t.data);

    if (latn == (size_t)-1)
        return;
    json_object *rec = record_at(m, latn);
    json_object *extra = json_object_object_get(rec, "extra");
    json_object *shape = json_object_object_get(extra, "shape");
    bool compressed = json_object_get_boolean(json_object_object_get(rec, "compressed"));
    int64_t usize = json_object_get_int64(json_object_object_get(rec, "uncompressed_size"));

    /* a shape whose size disagrees with uncompressed_size */
    json_object *e2 = NULL;
    json_object_deep_copy(extra, &e2, NULL);
    json_object_array_put_idx(json_object_object_get(e2, "shape"), 1, json_object_new_int64(5));
    t = edited(f, latn, "extra", e2);
    expect(&t, RAIIAF_ERECORD, "shape lies", name);
    free(t.data);
    /* shape and size lie together: the chunk itself disagrees */
    json_object *m2 = tl_manifest(f);
    json_object *r2 = record_at(m2, latn);
    json_object *s2 = json_object_object_get(json_object_object_get(r2, "extra"), "shape");
    int64_t d1 = json_object_get_int64(json_object_array_get_idx(s2, 1));
    json_object_array_put_idx(s2, 1, json_object_new_int64(d1 / 2 ? d1 / 2 : 2));
    int64_t nusize = usize / d1 * (d1 / 2 ? d1 / 2 : 2);
    json_object_object_add(r2, "uncompressed_size", json_object_new_int64(nusize));
    if (!compressed) {
        json_object_object_add(r2, "compressed_size", json_object_new_int64(nusize + 12));
        json_object_object_add(r2, "len_data", json_object_new_int64(nusize));
    }
    t = tl_with_manifest(f, m2);
    json_object_put(m2);
    if (compressed) {
        /* The inner header agrees with the lie too: only zfp's own count
         * can tell. */
        uint64_t off, csize;
        tl_record_span(m, latn, &off, &csize);
        int64_t lh = json_object_get_int64(json_object_object_get(rec, "len_header"));
        uint8_t inner[12];
        memcpy(inner, "LATN", 4);
        memcpy(inner + 4, strcmp(json_object_get_string(json_object_object_get(rec, "flags")), "F16")
                              ? "F32\0" : "F16\0", 4);
        put32(inner + 8, (uint32_t)nusize);
        uint8_t zh[64];
        size_t zhs = ZSTD_compress(zh, sizeof zh, inner, 12, 3);
        size_t zlen = csize - (size_t)lh;
        tl_bytes chunk = {malloc(zhs + zlen), zhs + zlen};
        memcpy(chunk.data, zh, zhs);
        memcpy(chunk.data + zhs, t.data + off + lh, zlen);
        json_object *m3 = tl_manifest(&t);
        tl_bytes t3 = tl_with_manifest(&t, m3);
        json_object_put(m3);
        struct { int64_t lh; } e = {(int64_t)zhs};
        (void)e;
        tl_bytes t4 = replace_chunk(&t3, latn, chunk.data, chunk.size, set_len_header, &e);
        expect(&t4, RAIIAF_EZFP, "zfp element count lies", name);
        free(t3.data);
        free(t4.data);
        free(chunk.data);
    } else {
        expect(&t, RAIIAF_ECHUNK, "raw latent size lies", name);
    }
    free(t.data);
    /* a shape too big to allocate */
    json_object *e3 = NULL;
    json_object_deep_copy(extra, &e3, NULL);
    for (int d = 0; d < 4; d++)
        json_object_array_put_idx(json_object_object_get(e3, "shape"), (size_t)d,
                                  json_object_new_int64(60000));
    t = edited(f, latn, "extra", e3);
    expect(&t, RAIIAF_ELIMIT, "huge shape", name);
    free(t.data);
    json_object *e4 = NULL;
    json_object_deep_copy(extra, &e4, NULL);
    json_object_array_put_idx(json_object_object_get(e4, "shape"), 0, json_object_new_int64(0));
    t = edited(f, latn, "extra", e4);
    expect(&t, RAIIAF_ERECORD, "zero dimension", name);
    free(t.data);
    t = edited(f, latn, "flags", json_object_new_string(
                                     strcmp(json_object_get_string(json_object_object_get(rec, "flags")),
                                            "F32") ? "F32" : "F16"));
    expect(&t, RAIIAF_ERECORD, "flags disagree with dtype", name);
    free(t.data);
    int64_t lh = json_object_get_int64(json_object_object_get(rec, "len_header"));
    t = edited(f, latn, "len_header", json_object_new_int64(lh + 1000));
    expect(&t, RAIIAF_ERECORD, "len_header lies", name);
    free(t.data);
    (void)shape;
}

static void hostile_payloads(const tl_bytes *f, json_object *m, const char *name)
{
    size_t data = find_record(m, "DATA");
    payload_edit pe;

    /* Something other than PNG: an error that says so, bytes still given. */
    static const char gif[] = "GIF89a not really a png";
    tl_bytes c = tl_zstd_chunk("DATA", "0000", gif, sizeof gif);
    pe.usize = sizeof gif;
    tl_sha256_hex(gif, sizeof gif, pe.hash);
    tl_bytes t = replace_chunk(f, data, c.data, c.size, set_payload, &pe);
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_memory(ctx, t.data, t.size) == RAIIAF_OK, "%s: non-PNG opens: %s", name,
          raiiaf_ctx_message(ctx));
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_ENOTPNG && strstr(raiiaf_ctx_message(ctx), "not PNG"),
          "%s: non-PNG named: %s", name, raiiaf_ctx_message(ctx));
    const void *bytes;
    size_t size;
    CHECK(raiiaf_get_image_data(ctx, &bytes, &size) == RAIIAF_OK && size == sizeof gif &&
              !memcmp(bytes, gif, size),
          "%s: non-PNG bytes handed out", name);
    CHECK(raiiaf_verify(ctx) == RAIIAF_ENOTPNG, "%s: verify names non-PNG", name);
    raiiaf_ctx_free(ctx);
    free(t.data);
    free(c.data);

    /* A PNG that is corrupt inside (IDAT damaged, hash right). */
    const void *png = NULL;
    size_t png_size = 0;
    ctx = raiiaf_ctx_new();
    raiiaf_open_memory(ctx, f->data, f->size);
    raiiaf_get_image_data(ctx, &png, &png_size);
    tl_bytes bad = tl_copy(png, png_size);
    for (size_t i = bad.size / 2; i < bad.size / 2 + 64 && i < bad.size; i++)
        bad.data[i] ^= 0x5a;
    raiiaf_ctx_free(ctx);
    c = tl_zstd_chunk("DATA", "0000", bad.data, bad.size);
    pe.usize = bad.size;
    tl_sha256_hex(bad.data, bad.size, pe.hash);
    t = replace_chunk(f, data, c.data, c.size, set_payload, &pe);
    expect(&t, RAIIAF_EPNG, "corrupt PNG inside", name);
    free(t.data);
    free(c.data);
    free(bad.data);

    /* zstd bomb: a small record over a frame of 256 MiB of zeros. */
    size_t big = 256u << 20;
    uint8_t *zeros = calloc(1, big);
    size_t cap = ZSTD_compressBound(big);
    uint8_t *z = malloc(cap);
    size_t zs = ZSTD_compress(z, cap, zeros, big, 1);
    free(zeros);
    pe.usize = 100;
    memset(pe.hash, '0', 64);
    pe.hash[64] = 0;
    t = replace_chunk(f, data, z, zs, set_payload, &pe);
    expect(&t, RAIIAF_EZSTD, "zstd bomb (record small)", name);
    free(t.data);
    pe.usize = big - 12;
    t = replace_chunk(f, data, z, zs, set_payload, &pe);
    expect_any_error(&t, "zstd frame of zeros (size agrees)", name);
    free(t.data);
    free(z);

    /* A frame that does not record its size (the reference cannot read it). */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    uint8_t raw[12 + 16] = "DATA0000";
    put32(raw + 8, 16);
    uint8_t out[256];
    ZSTD_outBuffer ob = {out, sizeof out, 0};
    ZSTD_inBuffer ib = {raw, sizeof raw, 0};
    ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
    ZSTD_freeCCtx(cc);
    pe.usize = 16;
    tl_sha256_hex(raw + 12, 16, pe.hash);
    t = replace_chunk(f, data, out, ob.pos, set_payload, &pe);
    expect(&t, RAIIAF_EZSTD, "zstd frame without content size", name);
    free(t.data);

    /* Two frames where one belongs. */
    tl_bytes one = tl_zstd_chunk("DATA", "0000", "abc", 3);
    tl_bytes two = {malloc(one.size * 2), one.size * 2};
    memcpy(two.data, one.data, one.size);
    memcpy(two.data + one.size, one.data, one.size);
    pe.usize = 3;
    tl_sha256_hex("abc", 3, pe.hash);
    t = replace_chunk(f, data, two.data, two.size, set_payload, &pe);
    expect(&t, RAIIAF_EZSTD, "two zstd frames", name);
    free(t.data);
    free(one.data);
    free(two.data);

    /* A manifest that is not JSON, or has the wrong shape. */
    const char *bad_json[] = {"{not json", "[1,2,3]", "{\"raiiaf_metadata\": 5}", "{\"x\": 1} trailing",
                              "{\"raiiaf_metadata\": {\"chunks\": []}}"};
    for (size_t k = 0; k < sizeof bad_json / sizeof bad_json[0]; k++) {
        tl_bytes meta = tl_zstd_chunk("META", "0000", bad_json[k], strlen(bad_json[k]));
        uint32_t meta_off = (uint32_t)f->data[9] | (uint32_t)f->data[10] << 8 | (uint32_t)f->data[11] << 16;
        tl_bytes x = {malloc(meta_off + meta.size), meta_off + meta.size};
        memcpy(x.data, f->data, meta_off);
        memcpy(x.data + meta_off, meta.data, meta.size);
        put32(x.data + 13, (uint32_t)meta.size);
        for (int i = 0; i < 8; i++)
            x.data[21 + i] = (uint8_t)((uint64_t)x.size >> (8 * i));
        expect(&x, k == 4 ? RAIIAF_EHEADER : RAIIAF_EMANIFEST, bad_json[k], name);
        free(x.data);
        free(meta.data);
    }
}

static void limits_and_misc(const tl_bytes *f, const char *name)
{
    raiiaf_limits l;
    raiiaf_limits_default(&l);
    l.max_chunk_count = 1;
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_ctx_set_limits(ctx, &l) == RAIIAF_OK, "set limits");
    CHECK(raiiaf_open_memory(ctx, f->data, f->size) == RAIIAF_ELIMIT, "%s: chunk count limit", name);
    CHECK(raiiaf_get_latent_count(ctx, &(size_t){0}) == RAIIAF_EBADSTATE, "%s: unusable after", name);
    raiiaf_ctx_free(ctx);
    raiiaf_limits_default(&l);
    l.max_image_pixels = 1000;
    ctx = raiiaf_ctx_new();
    raiiaf_ctx_set_limits(ctx, &l);
    CHECK(raiiaf_open_memory(ctx, f->data, f->size) == RAIIAF_OK, "%s: opens", name);
    raiiaf_image_info info;
    CHECK(raiiaf_get_image_info(ctx, &info) == RAIIAF_ELIMIT, "%s: pixel limit: %s", name,
          raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    /* Random damage: whatever happens, no crash. */
    srand(1234);
    for (int i = 0; i < 200; i++) {
        tl_bytes t = tl_copy(f->data, f->size);
        for (int k = 0; k < 1 + i % 8; k++)
            t.data[(size_t)rand() % t.size] ^= (uint8_t)(1 + rand() % 255);
        read_all(&t, NULL, 0);
        free(t.data);
    }
}

/* A damaged environment keeps failing with its message, whichever call
 * meets it first. */
static void env_error_kept(const tl_bytes *f, json_object *m, const char *name)
{
    uint64_t off, size;
    tl_record_span(m, find_record(m, "ENVC"), &off, &size);
    tl_bytes t = tl_copy(f->data, f->size);
    t.data[off + size / 2] ^= 0x40;
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_memory(ctx, t.data, t.size) == RAIIAF_OK, "%s: opens", name);
    size_t n;
    CHECK(raiiaf_get_text_count(ctx, &n) == RAIIAF_OK && n > 0, "%s: texts without env", name);
    CHECK(raiiaf_find_text(ctx, "env-python") == NULL, "%s: no env texts", name);
    const char *env;
    size_t env_size;
    int err = raiiaf_get_env_json(ctx, &env, &env_size);
    CHECK(err != RAIIAF_OK && strstr(raiiaf_ctx_message(ctx), "ENVC"), "%s: env error kept: %s", name,
          raiiaf_ctx_message(ctx));
    CHECK(raiiaf_verify(ctx) == err && strstr(raiiaf_ctx_message(ctx), "ENVC"),
          "%s: verify names ENVC: %s", name, raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    free(t.data);
}

static void not_files(void)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_file(ctx, "/nonexistent/file.raiiaf") == RAIIAF_EIO &&
              strstr(raiiaf_ctx_message(ctx), "No such file"),
          "missing file: %s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_file(ctx, "/") == RAIIAF_EIO, "a directory: %s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_memory(ctx, "", 0) == RAIIAF_EMAGIC, "empty input");
    raiiaf_ctx_free(ctx);
    ctx = raiiaf_ctx_new();
    CHECK(raiiaf_open_memory(ctx, "\x89PNG\r\n\x1a\n", 8) == RAIIAF_EMAGIC, "a PNG is not ours");
    raiiaf_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FIXTURE_DIR NAME...\n", argv[0]);
        return 2;
    }
    for (int a = 2; a < argc; a++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.raiiaf", argv[1], argv[a]);
        tl_bytes f = tl_read_file(path);
        CHECK(f.size > 0, "%s: read", argv[a]);
        json_object *m = tl_manifest(&f);
        expect(&f, RAIIAF_OK, "the fixture itself", argv[a]);
        truncations(&f, m, argv[a]);
        bit_flips(&f, m, argv[a]);
        lying_records(&f, m, argv[a]);
        hostile_payloads(&f, m, argv[a]);
        limits_and_misc(&f, argv[a]);
        env_error_kept(&f, m, argv[a]);
        json_object_put(m);
        free(f.data);
    }
    not_files();
    return tl_finish();
}
