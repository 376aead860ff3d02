/* A few helpers shared by the core tests: checks that count, file I/O, and
 * an independent little .raiiaf assembler for crafting hostile files. */
#ifndef RAIIAF_TESTLIB_H
#define RAIIAF_TESTLIB_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int tl_passed, tl_failed;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (cond) {                                                                      \
            tl_passed++;                                                                 \
        } else {                                                                         \
            tl_failed++;                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

/* Prints "N passed, N failed" and returns the exit status. */
int tl_finish(void);

typedef struct tl_bytes {
    uint8_t *data;
    size_t size;
} tl_bytes;

tl_bytes tl_read_file(const char *path);
bool tl_write_file(const char *path, const void *data, size_t size);
tl_bytes tl_copy(const void *data, size_t size);
void tl_sha256_hex(const void *data, size_t size, char out[65]);
json_object *tl_read_json(const char *path);

/* zstd one-shot frame of (4-byte type, "0000" or flags, le32 size, payload). */
tl_bytes tl_zstd_chunk(const char *type, const char *flags, const void *payload, size_t size);

/* The manifest of a .raiiaf held in memory (decompressed, parsed). */
json_object *tl_manifest(const tl_bytes *file);
/* Replaces the manifest of a file whose META chunk is last (as every writer
 * puts it), fixing the header's table size, count and file size. */
tl_bytes tl_with_manifest(const tl_bytes *file, json_object *manifest);

/* Chunk record `index`'s offset and compressed size. */
void tl_record_span(json_object *manifest, size_t index, uint64_t *offset, uint64_t *size);

/* The file with chunk `index` replaced by `chunk` (its record's sizes and
 * hash set), every chunk moved to keep them in record order, and the
 * manifest (changed as the caller likes) written last. */
tl_bytes tl_replace_chunk(const tl_bytes *file, json_object *manifest, size_t index,
                          const tl_bytes *chunk, uint64_t uncompressed_size, const char *hash_hex);

/* The CRC-32 of PNG chunks and zlib (ISO 3309). */
uint32_t tl_crc32(const uint8_t *p, size_t n);

#endif
