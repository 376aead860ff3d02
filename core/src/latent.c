#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zfp.h>
#include <zstd.h>

#define RF_ZSTD_LEVEL 3

/* ---- zfp decoding, bounded --------------------------------------------
 * zfp's bit stream reader does not know where its buffer ends. A block
 * never reads more than maxbits bits (plus one word of look-ahead), so the
 * stream is copied into a buffer with that much zero padding, decoded one
 * block at a time, and rejected as soon as the position passes the real end.
 */

static bool zfp_past_end(bitstream *bs, uint64_t data_bits)
{
    return stream_rtell(bs) > data_bits;
}

#define RF_ZFP_LOOP_CHECK()                                                                   \
    do {                                                                                      \
        if (zfp_past_end(bs, data_bits))                                                      \
            return false;                                                                     \
    } while (0)

static bool zfp_decode_blocks(zfp_stream *zs, bitstream *bs, uint64_t data_bits, float *out,
                              unsigned dims, const size_t n[4])
{
    size_t nx = n[0], ny = n[1], nz = n[2], nw = n[3];
    ptrdiff_t sx = 1, sy = (ptrdiff_t)nx, sz = (ptrdiff_t)(nx * ny), sw = (ptrdiff_t)(nx * ny * nz);
    switch (dims) {
    case 1:
        for (size_t x = 0; x < nx; x += 4) {
            float *p = out + x;
            if (nx - x < 4)
                zfp_decode_partial_block_strided_float_1(zs, p, nx - x, sx);
            else
                zfp_decode_block_strided_float_1(zs, p, sx);
            RF_ZFP_LOOP_CHECK();
        }
        return true;
    case 2:
        for (size_t y = 0; y < ny; y += 4)
            for (size_t x = 0; x < nx; x += 4) {
                float *p = out + x * sx + y * sy;
                if (nx - x < 4 || ny - y < 4)
                    zfp_decode_partial_block_strided_float_2(zs, p, nx - x < 4 ? nx - x : 4,
                                                             ny - y < 4 ? ny - y : 4, sx, sy);
                else
                    zfp_decode_block_strided_float_2(zs, p, sx, sy);
                RF_ZFP_LOOP_CHECK();
            }
        return true;
    case 3:
        for (size_t z = 0; z < nz; z += 4)
            for (size_t y = 0; y < ny; y += 4)
                for (size_t x = 0; x < nx; x += 4) {
                    float *p = out + x * sx + y * sy + z * sz;
                    if (nx - x < 4 || ny - y < 4 || nz - z < 4)
                        zfp_decode_partial_block_strided_float_3(
                            zs, p, nx - x < 4 ? nx - x : 4, ny - y < 4 ? ny - y : 4,
                            nz - z < 4 ? nz - z : 4, sx, sy, sz);
                    else
                        zfp_decode_block_strided_float_3(zs, p, sx, sy, sz);
                    RF_ZFP_LOOP_CHECK();
                }
        return true;
    case 4:
        for (size_t w = 0; w < nw; w += 4)
            for (size_t z = 0; z < nz; z += 4)
                for (size_t y = 0; y < ny; y += 4)
                    for (size_t x = 0; x < nx; x += 4) {
                        float *p = out + x * sx + y * sy + z * sz + w * sw;
                        if (nx - x < 4 || ny - y < 4 || nz - z < 4 || nw - w < 4)
                            zfp_decode_partial_block_strided_float_4(
                                zs, p, nx - x < 4 ? nx - x : 4, ny - y < 4 ? ny - y : 4,
                                nz - z < 4 ? nz - z : 4, nw - w < 4 ? nw - w : 4, sx, sy, sz, sw);
                        else
                            zfp_decode_block_strided_float_4(zs, p, sx, sy, sz, sw);
                        RF_ZFP_LOOP_CHECK();
                    }
        return true;
    default:
        return false;
    }
}

/* Decodes a zfp stream of `elements` float32 values into out. */
static int zfp_decode_floats(const uint8_t *data, size_t size, uint64_t elements, float *out,
                             const rf_record *rec, rf_msg *msg)
{
    /* Padding: one block's worst case plus look-ahead words. */
    size_t pad = ZFP_MAX_BITS / 8 + 64;
    size_t padded = (size + pad + 7) & ~(size_t)7;
    uint64_t *buf = calloc(padded / 8, 8);
    if (!buf)
        return rf_fail(msg, RAIIAF_ENOMEM, "chunk %zu (LATN): out of memory", rec->position);
    memcpy(buf, data, size);
    int err = RAIIAF_OK;
    bitstream *bs = stream_open(buf, padded);
    zfp_stream *zs = bs ? zfp_stream_open(bs) : NULL;
    zfp_field *field = zfp_field_alloc();
    if (!bs || !zs || !field) {
        err = rf_fail(msg, RAIIAF_ENOMEM, "chunk %zu (LATN): out of memory", rec->position);
        goto done;
    }
    uint64_t data_bits = (uint64_t)size * 8;
    if (!zfp_read_header(zs, field, ZFP_HEADER_FULL) || zfp_past_end(bs, data_bits)) {
        err = rf_fail(msg, RAIIAF_EZFP, "chunk %zu (LATN \"%.64s\"): no valid zfp header",
                      rec->position, rec->key);
        goto done;
    }
    if (field->type != zfp_type_float) {
        err = rf_fail(msg, RAIIAF_EZFP, "chunk %zu (LATN \"%.64s\"): zfp stream is not float32",
                      rec->position, rec->key);
        goto done;
    }
    if (zs->maxbits > ZFP_MAX_BITS) {
        err = rf_fail(msg, RAIIAF_EZFP, "chunk %zu (LATN \"%.64s\"): zfp block size out of range",
                      rec->position, rec->key);
        goto done;
    }
    unsigned dims = zfp_field_dimensionality(field);
    size_t n[4] = {field->nx, field->ny ? field->ny : 1, field->nz ? field->nz : 1,
                   field->nw ? field->nw : 1};
    uint64_t count = 1;
    bool overflow = false;
    for (unsigned i = 0; i < dims; i++)
        overflow |= n[i] == 0 || rf_mul_overflow(count, n[i], &count);
    if (dims < 1 || dims > 4 || overflow || count != elements) {
        err = rf_fail(msg, RAIIAF_EZFP,
                      "chunk %zu (LATN \"%.64s\"): zfp header holds %llu values, the shape %llu",
                      rec->position, rec->key, overflow ? 0ULL : (unsigned long long)count,
                      (unsigned long long)elements);
        goto done;
    }
    if (!zfp_decode_blocks(zs, bs, data_bits, out, dims, n))
        err = rf_fail(msg, RAIIAF_EZFP, "chunk %zu (LATN \"%.64s\"): zfp stream is truncated",
                      rec->position, rec->key);
done:
    zfp_field_free(field);
    zfp_stream_close(zs);
    stream_close(bs);
    free(buf);
    return err;
}

int rf_latent_decode(const rf_source *src, const rf_record *rec, void *out, size_t out_size,
                     rf_msg *msg)
{
    if (out_size < rec->uncompressed_size)
        return rf_fail(msg, RAIIAF_ERANGE, "latent \"%.64s\" needs %llu bytes", rec->key,
                       (unsigned long long)rec->uncompressed_size);
    char what[96];
    snprintf(what, sizeof what, "chunk %zu (LATN \"%.40s\")", rec->position, rec->key);
    size_t esize = rf_dtype(rec->dtype)->size;
    uint64_t elements = rec->uncompressed_size / esize;
    uint8_t inner[RF_INNER_SIZE];
    int err;

    if (!rec->compressed) {
        err = rf_source_read(src, rec->offset, inner, RF_INNER_SIZE, msg, what);
        if (!err)
            err = rf_check_inner(inner, rec, rec->uncompressed_size, msg);
        if (!err)
            err = rf_source_read(src, rec->offset + RF_INNER_SIZE, out,
                                 (size_t)rec->uncompressed_size, msg, what);
        if (err)
            return err;
    } else {
        err = rf_unzstd_exact(src, rec->offset, rec->len_header, inner, RF_INNER_SIZE, msg, what);
        if (!err)
            err = rf_check_inner(inner, rec, rec->uncompressed_size, msg);
        if (err)
            return err;
        uint8_t *zdata = malloc(rec->len_data ? (size_t)rec->len_data : 1);
        if (!zdata)
            return rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
        err = rf_source_read(src, rec->offset + rec->len_header, zdata, (size_t)rec->len_data, msg,
                             what);
        float *floats = out;
        if (!err && rec->dtype == RAIIAF_FLOAT16) {
            floats = malloc((size_t)elements * sizeof(float));
            if (!floats)
                err = rf_fail(msg, RAIIAF_ENOMEM, "%s: out of memory", what);
        }
        if (!err)
            err = zfp_decode_floats(zdata, (size_t)rec->len_data, elements, floats, rec, msg);
        free(zdata);
        if (!err) {
            if (rec->dtype == RAIIAF_FLOAT16) {
                /* The reference casts the float32 values to the flags' type. */
                uint16_t *h = out;
                for (uint64_t i = 0; i < elements; i++)
                    h[i] = rf_f32_to_f16(floats[i]);
            }
            rf_host_to_le(out, (size_t)elements, esize);
        }
        if (floats != out)
            free(floats);
        if (err)
            return err;
    }

    /* Here `out` holds the little-endian bytes the hash covers. */
    err = rf_check_hash(out, (size_t)rec->uncompressed_size, rec, msg);
    if (err)
        return err;
    rf_le_to_host(out, (size_t)elements, esize);
    /* The reference writes finite values only: a file holding others could
     * not be exported again. */
    uint64_t bad = rf_latent_first_nonfinite(rec->dtype, out, elements);
    if (bad < elements)
        return rf_fail(msg, RAIIAF_EVALUE, "%s: element %llu is NaN or infinite", what,
                       (unsigned long long)bad);
    return RAIIAF_OK;
}

/* A value is NaN or infinite when its exponent bits are all set. Whole
 * blocks of values are tested without a branch and with a constant count
 * (so the compiler vectorises it); only a block holding such a value, and
 * the last few values, are searched one by one. */
enum { RF_FINITE_BLOCK = 1024 };

static bool nonfinite_at(int dtype, const uint8_t *p, uint64_t i)
{
    if (dtype == RAIIAF_FLOAT16) {
        uint16_t h;
        memcpy(&h, p + i * 2, 2);
        return (h & 0x7c00) == 0x7c00;
    }
    uint32_t f;
    memcpy(&f, p + i * 4, 4);
    return (f & 0x7f800000) == 0x7f800000;
}

static bool block_has_nonfinite(int dtype, const uint8_t *p)
{
    unsigned any = 0;
    if (dtype == RAIIAF_FLOAT16) {
        for (int i = 0; i < RF_FINITE_BLOCK; i++) {
            uint16_t h;
            memcpy(&h, p + i * 2, 2);
            any |= (h & 0x7c00) == 0x7c00;
        }
    } else {
        for (int i = 0; i < RF_FINITE_BLOCK; i++) {
            uint32_t f;
            memcpy(&f, p + i * 4, 4);
            any |= (f & 0x7f800000) == 0x7f800000;
        }
    }
    return any;
}

uint64_t rf_latent_first_nonfinite(int dtype, const void *data, uint64_t count)
{
    const uint8_t *p = data;
    size_t esize = dtype == RAIIAF_FLOAT16 ? 2 : 4;
    uint64_t i = 0;
    while (count - i >= RF_FINITE_BLOCK && !block_has_nonfinite(dtype, p + i * esize))
        i += RF_FINITE_BLOCK;
    for (; i < count; i++)
        if (nonfinite_at(dtype, p, i))
            return i;
    return count;
}

int rf_latent_check(const rf_source *src, const rf_record *rec, rf_msg *msg)
{
    void *buf = malloc(rec->uncompressed_size ? (size_t)rec->uncompressed_size : 1);
    if (!buf)
        return rf_fail(msg, RAIIAF_ENOMEM, "chunk %zu (LATN): out of memory", rec->position);
    int err = rf_latent_decode(src, rec, buf, (size_t)rec->uncompressed_size, msg);
    free(buf);
    return err;
}

/* ---- encoding --------------------------------------------------------- */

static int encode_zfp(const float *values, const uint64_t *shape, unsigned ndim,
                      uint8_t **zbytes, size_t *zsize, rf_msg *msg)
{
    /* zfp codes blocks of 4 along every dimension: size-1 dimensions would
     * be padded to 4, so they are dropped (the reader reshapes). */
    size_t n[4] = {1, 1, 1, 1};
    unsigned dims = 0;
    for (unsigned i = ndim; i-- > 0;) /* zfp's x is numpy's last axis */
        if (shape[i] > 1) {
            if (dims == 4)
                return rf_fail(msg, RAIIAF_EUNSUPPORTED, "zfp takes at most 4 dimensions above 1");
            n[dims++] = (size_t)shape[i];
        }
    if (dims == 0)
        dims = 1;
    zfp_field *field = NULL;
    switch (dims) {
    case 1: field = zfp_field_1d((void *)values, zfp_type_float, n[0]); break;
    case 2: field = zfp_field_2d((void *)values, zfp_type_float, n[0], n[1]); break;
    case 3: field = zfp_field_3d((void *)values, zfp_type_float, n[0], n[1], n[2]); break;
    default: field = zfp_field_4d((void *)values, zfp_type_float, n[0], n[1], n[2], n[3]); break;
    }
    zfp_stream *zs = zfp_stream_open(NULL);
    if (!field || !zs) {
        zfp_field_free(field);
        zfp_stream_close(zs);
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    }
    zfp_stream_set_reversible(zs);
    size_t cap = zfp_stream_maximum_size(zs, field);
    void *buf = malloc(cap);
    bitstream *bs = buf ? stream_open(buf, cap) : NULL;
    int err = RAIIAF_OK;
    if (!bs) {
        err = rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    } else {
        zfp_stream_set_bit_stream(zs, bs);
        zfp_stream_rewind(zs);
        size_t hbits = zfp_write_header(zs, field, ZFP_HEADER_FULL);
        size_t total = hbits ? zfp_compress(zs, field) : 0;
        if (!total)
            err = rf_fail(msg, RAIIAF_EZFP, "zfp compression failed");
        *zsize = total;
    }
    stream_close(bs);
    zfp_stream_close(zs);
    zfp_field_free(field);
    if (err) {
        free(buf);
        return err;
    }
    *zbytes = buf;
    return RAIIAF_OK;
}

int rf_latent_encode(rf_record *rec, const void *data, int storage, uint8_t **bytes,
                     rf_msg *msg)
{
    *bytes = NULL;
    int dtype = rec->dtype;
    uint64_t elements = 1;
    for (unsigned i = 0; i < rec->ndim; i++)
        elements *= rec->shape[i]; /* bounded by the caller's checks */
    size_t esize = rf_dtype(dtype)->size;
    size_t raw_size = (size_t)elements * esize;

    if (storage != RAIIAF_STORAGE_RAW) {
        float *widened = NULL;
        const float *values = data;
        if (dtype == RAIIAF_FLOAT16) { /* zfp has no float16: widen, exactly */
            widened = malloc((size_t)elements * sizeof(float));
            if (!widened)
                return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
            const uint16_t *h = data;
            for (uint64_t i = 0; i < elements; i++)
                widened[i] = rf_f16_to_f32(h[i]);
            values = widened;
        }
        uint8_t *z = NULL;
        size_t zsize = 0;
        int err = encode_zfp(values, rec->shape, rec->ndim, &z, &zsize, msg);
        free(widened);
        if (err)
            return err;
        uint8_t inner[RF_INNER_SIZE];
        rf_inner_build(inner, RF_LATN, dtype, (uint32_t)raw_size);
        uint8_t zhead[64];
        size_t hsize = ZSTD_compress(zhead, sizeof zhead, inner, sizeof inner, RF_ZSTD_LEVEL);
        if (ZSTD_isError(hsize)) {
            free(z);
            return rf_fail(msg, RAIIAF_EZSTD, "zstd: %s", ZSTD_getErrorName(hsize));
        }
        size_t zfp_chunk_size = hsize + zsize;
        if (storage == RAIIAF_STORAGE_ZFP || zfp_chunk_size < RF_INNER_SIZE + raw_size) {
            uint8_t *zfp_chunk = malloc(zfp_chunk_size);
            if (!zfp_chunk) {
                free(z);
                return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
            }
            memcpy(zfp_chunk, zhead, hsize);
            memcpy(zfp_chunk + hsize, z, zsize);
            free(z);
            *bytes = zfp_chunk;
            rec->compressed = true;
            rec->compressed_size = zfp_chunk_size;
            rec->len_header = hsize;
            rec->len_data = zsize;
            return RAIIAF_OK;
        }
        free(z);
    }
    uint8_t *raw = malloc(RF_INNER_SIZE + raw_size);
    if (!raw)
        return rf_fail(msg, RAIIAF_ENOMEM, "out of memory");
    rf_inner_build(raw, RF_LATN, dtype, (uint32_t)raw_size);
    memcpy(raw + RF_INNER_SIZE, data, raw_size);
    rf_host_to_le(raw + RF_INNER_SIZE, (size_t)elements, esize);
    *bytes = raw;
    rec->compressed = false;
    rec->compressed_size = RF_INNER_SIZE + raw_size;
    rec->len_header = RF_INNER_SIZE;
    rec->len_data = raw_size;
    return RAIIAF_OK;
}

/* ---- the reader's latent calls ----------------------------------------- */

static int latent_record(raiiaf_ctx *ctx, size_t index, const rf_record **rec)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (index >= ctx->latent_count)
        return rf_fail(&ctx->msg, RAIIAF_ERANGE, "latent %zu: the file has %zu", index,
                       ctx->latent_count);
    *rec = &ctx->records[ctx->latents[index]];
    return RAIIAF_OK;
}

int raiiaf_get_latent_count(raiiaf_ctx *ctx, size_t *count)
{
    int err = rf_ctx_check(ctx);
    if (err)
        return err;
    if (!count)
        return RF_BAD_ARGS(&ctx->msg);
    *count = ctx->latent_count;
    return RAIIAF_OK;
}

int raiiaf_get_latent_info(raiiaf_ctx *ctx, size_t index, raiiaf_latent_info *info)
{
    const rf_record *rec = NULL;
    int err = latent_record(ctx, index, &rec);
    if (err)
        return err;
    if (!info)
        return RF_BAD_ARGS(&ctx->msg);
    memset(info, 0, sizeof *info);
    info->key = rec->key;
    info->dtype = rec->dtype;
    info->storage = rec->compressed ? RAIIAF_STORAGE_ZFP : RAIIAF_STORAGE_RAW;
    info->ndim = rec->ndim;
    memcpy(info->shape, rec->shape, sizeof rec->shape);
    info->decoded_size = rec->uncompressed_size;
    info->stored_size = rec->compressed_size;
    return RAIIAF_OK;
}

int raiiaf_decode_latent(raiiaf_ctx *ctx, size_t index, void *out, size_t out_size)
{
    const rf_record *rec = NULL;
    int err = latent_record(ctx, index, &rec);
    if (err)
        return err;
    if (!out && out_size)
        return RF_BAD_ARGS(&ctx->msg);
    return rf_latent_decode(&ctx->src, rec, out, out_size, &ctx->msg);
}

int raiiaf_get_latent_stored(raiiaf_ctx *ctx, size_t index, void **blob, size_t *size)
{
    const rf_record *rec = NULL;
    int err = latent_record(ctx, index, &rec);
    if (err)
        return err;
    if (!blob || !size)
        return RF_BAD_ARGS(&ctx->msg);
    /* Check the payload before handing it on. */
    err = rf_latent_check(&ctx->src, rec, &ctx->msg);
    if (err)
        return err;
    return rf_stored_pack(&ctx->src, rec, blob, size, &ctx->msg);
}
