/* craft-json OUT.raiiaf {manifest|env} KIND [COUNT]
 *
 * Writes a small, well-formed .raiiaf (a 1x1 PNG, no latents) whose
 * manifest or environment holds one extra key, "padding", with a value
 * chosen to attack the JSON reader; every size, offset and sha256 is right,
 * so only that value is the lie. KIND:
 *   objects, arrays  COUNT (default: up to just under the 8 MiB JSON limit)
 *                    empty {} or [] in one array: a few kB of zstd that
 *                    json-c would turn into gigabytes
 *   nested           COUNT nested arrays (default 100)
 *   values           COUNT zeros in one array (default 600000)
 *   comment, single-quote, nan, infinity, trailing-comma, control-char
 *                    what json-c accepts but JSON does not have
 *   plain            a string: the file is good
 * Our own assembler (testlib.c), not the library's writer, which would
 * refuse most of these. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#define JSON_LIMIT (8u << 20)

/* A 1x1 8-bit grey PNG, written by hand: IHDR, one stored-deflate IDAT,
 * IEND, each with its CRC. */
static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static size_t png_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n)
{
    be32(out, n);
    memcpy(out + 4, type, 4);
    if (n)
        memcpy(out + 8, data, n);
    be32(out + 8 + n, tl_crc32(out + 4, 4 + n));
    return 12 + n;
}

static size_t tiny_png(uint8_t out[80])
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    /* zlib: header, one stored block of [filter 0, sample 0x80], adler32 */
    uint8_t idat[] = {0x78, 0x01, 0x01, 0x02, 0x00, 0xfd, 0xff, 0x00, 0x80, 0, 0, 0, 0};
    uint32_t a = 1, b = 0;
    for (int i = 7; i < 9; i++)
        a = (a + idat[i]) % 65521, b = (b + a) % 65521;
    be32(idat + 9, b << 16 | a);
    size_t n = 0;
    memcpy(out, sig, 8), n = 8;
    n += png_chunk(out + n, "IHDR", ihdr, sizeof ihdr);
    n += png_chunk(out + n, "IDAT", idat, sizeof idat);
    n += png_chunk(out + n, "IEND", NULL, 0);
    return n;
}

/* The value of "padding" for KIND, NULL if KIND is unknown. */
static char *padding(const char *kind, long count, size_t room)
{
    const char *fixed = !strcmp(kind, "comment")          ? "/* a comment */ 1"
                        : !strcmp(kind, "single-quote")   ? "'single quotes'"
                        : !strcmp(kind, "nan")            ? "NaN"
                        : !strcmp(kind, "infinity")       ? "-Infinity"
                        : !strcmp(kind, "trailing-comma") ? "[1, 2,]"
                        : !strcmp(kind, "control-char")   ? "\"tab\there\""
                        : !strcmp(kind, "plain")          ? "\"nothing to see\""
                                                          : NULL;
    if (fixed)
        return strdup(fixed);
    const char *unit = !strcmp(kind, "objects") ? "{}"
                       : !strcmp(kind, "arrays") ? "[]"
                       : !strcmp(kind, "values") ? "0"
                                                 : NULL;
    if (unit) {
        size_t u = strlen(unit);
        size_t n = count > 0 ? (size_t)count : !strcmp(kind, "values") ? 600000 : room / (u + 1);
        char *s = malloc(n * (u + 1) + 3), *p = s;
        *p++ = '[';
        for (size_t i = 0; i < n; i++) {
            if (i)
                *p++ = ',';
            memcpy(p, unit, u), p += u;
        }
        *p++ = ']', *p = 0;
        return s;
    }
    if (!strcmp(kind, "nested")) {
        size_t n = count > 0 ? (size_t)count : 100;
        char *s = malloc(2 * n + 1);
        memset(s, '[', n), memset(s + n, ']', n), s[2 * n] = 0;
        return s;
    }
    return NULL;
}

/* obj serialised with its "padding" placeholder replaced by value. */
static char *splice(json_object *obj, const char *value, size_t *len)
{
    json_object_object_add(obj, "padding", json_object_new_string("@@PADDING@@"));
    const char *js = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY);
    const char *at = strstr(js, "\"@@PADDING@@\"");
    size_t head = (size_t)(at - js), vlen = strlen(value), tail = strlen(at + 13);
    char *out = malloc(head + vlen + tail + 1);
    memcpy(out, js, head);
    memcpy(out + head, value, vlen);
    memcpy(out + head + vlen, at + 13, tail + 1);
    *len = head + vlen + tail;
    return out;
}

static json_object *record(const char *type, uint64_t offset, const tl_bytes *chunk,
                           const void *payload, size_t size, size_t index)
{
    char hex[65];
    tl_sha256_hex(payload, size, hex);
    json_object *r = json_object_new_object();
    json_object_object_add(r, "index", json_object_new_int64((int64_t)index));
    json_object_object_add(r, "type", json_object_new_string(type));
    json_object_object_add(r, "flags", json_object_new_string("0000"));
    json_object_object_add(r, "offset", json_object_new_int64((int64_t)offset));
    json_object_object_add(r, "compressed_size", json_object_new_int64((int64_t)chunk->size));
    json_object_object_add(r, "uncompressed_size", json_object_new_int64((int64_t)size));
    json_object_object_add(r, "hash", json_object_new_string(hex));
    json_object_object_add(r, "extra", json_object_new_object());
    json_object_object_add(r, "compressed", json_object_new_boolean(1));
    json_object_object_add(r, "len_header", NULL);
    json_object_object_add(r, "len_data", NULL);
    return r;
}

static void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "manifest") && strcmp(argv[2], "env"))) {
        fprintf(stderr, "usage: %s OUT.raiiaf {manifest|env} KIND [COUNT]\n", argv[0]);
        return 2;
    }
    bool in_env = !strcmp(argv[2], "env");
    long count = argc > 4 ? atol(argv[4]) : 0;
    char *value = padding(argv[3], count, JSON_LIMIT - (64u << 10));
    if (!value) {
        fprintf(stderr, "unknown kind %s\n", argv[3]);
        return 2;
    }

    uint8_t png[80];
    size_t png_size = tiny_png(png);
    json_object *env = json_tokener_parse(
        "{\"env_version\": 1, \"components\": [{\"component_id\": \"python\", "
        "\"cononical_str\": \"name=python;version=3.11.2\"}]}");
    size_t env_len;
    char *env_text = in_env ? splice(env, value, &env_len)
                            : strdup(json_object_to_json_string_ext(env, JSON_C_TO_STRING_PRETTY));
    if (!in_env)
        env_len = strlen(env_text);

    tl_bytes data = tl_zstd_chunk("DATA", "0000", png, png_size);
    tl_bytes envc = tl_zstd_chunk("ENVC", "0000", env_text, env_len);
    json_object *chunks = json_object_new_array();
    json_object_array_add(chunks, record("DATA", 33, &data, png, png_size, 0));
    json_object_array_add(chunks, record("ENVC", 33 + data.size, &envc, env_text, env_len, 1));

    json_object *meta = json_object_new_object();
    json_object *fi = json_object_new_object();
    json_object_object_add(fi, "magic", json_object_new_string("raiiaf"));
    json_object_object_add(fi, "version_major", json_object_new_int(1));
    json_object_object_add(fi, "version_minor", json_object_new_int(0));
    json_object_object_add(fi, "file_size", json_object_new_int(0));
    json_object_object_add(fi, "chunk_count", json_object_new_int(2));
    json_object_object_add(meta, "file_info", fi);
    json_object *mi = json_object_new_object();
    json_object_object_add(mi, "model_name", json_object_new_string("crafted"));
    json_object_object_add(mi, "version", json_object_new_string("1"));
    json_object_object_add(mi, "date", json_object_new_string("2026-01-01T00:00:00"));
    json_object_object_add(mi, "prompt", json_object_new_string("p"));
    json_object_object_add(mi, "tags", json_object_new_array());
    json_object_object_add(meta, "model_info", mi);
    json_object_object_add(meta, "chunks", chunks);
    size_t man_len;
    char *man_text;
    json_object *root = json_object_new_object();
    json_object_object_add(root, "raiiaf_metadata", meta);
    if (in_env) {
        man_text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
        man_len = strlen(man_text);
    } else {
        man_text = splice(meta, value, &man_len);
        /* wrap: {"raiiaf_metadata": ...} */
        char *wrapped = malloc(man_len + 32);
        man_len = (size_t)sprintf(wrapped, "{\"raiiaf_metadata\": %s}", man_text);
        free(man_text);
        man_text = wrapped;
    }
    tl_bytes metac = tl_zstd_chunk("META", "0000", man_text, man_len);

    size_t total = 33 + data.size + envc.size + metac.size;
    uint8_t *file = calloc(1, total), *p = file;
    memcpy(p, "raiiaf", 6);
    p[6] = 1, p[7] = 0, p[8] = 0;
    le(p + 9, 33 + data.size + envc.size, 4);
    le(p + 13, metac.size, 4);
    le(p + 17, 2, 4);
    le(p + 21, total, 8);
    memcpy(file + 33, data.data, data.size);
    memcpy(file + 33 + data.size, envc.data, envc.size);
    memcpy(file + 33 + data.size + envc.size, metac.data, metac.size);
    if (!tl_write_file(argv[1], file, total)) {
        perror(argv[1]);
        return 1;
    }
    printf("%s: %zu bytes; %s JSON %zu bytes\n", argv[1], total, argv[2],
           in_env ? env_len : man_len);
    free(file), free(data.data), free(envc.data), free(metac.data);
    free(man_text), free(env_text), free(value);
    json_object_put(root);
    json_object_put(env);
    return 0;
}
