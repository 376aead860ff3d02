/* raiiaf_stream: a file pushed in pieces opens like the file; the magic,
 * the header and the limits are checked with the first bytes; no byte past
 * the header's size is taken; a short input is truncated.
 * argv[1]: the fixtures folder, argv[2...]: fixture names. */
#include <stdlib.h>
#include <string.h>

#include "raiiaf.h"
#include "testlib.h"

/* Opens `data` pushed in pieces of `piece` bytes; returns the open's
 * result and, on success, the image size. */
static int open_in_pieces(const tl_bytes *file, size_t piece, uint32_t *width)
{
    raiiaf_stream *s = raiiaf_stream_new();
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int err = RAIIAF_OK;
    size_t at = 0;
    while (!err && raiiaf_stream_wanted(s) > 0 && at < file->size) {
        uint64_t want = raiiaf_stream_wanted(s);
        size_t n = piece < want ? piece : (size_t)want;
        if (n > file->size - at)
            n = file->size - at;
        err = raiiaf_stream_push(s, file->data + at, n);
        at += n;
    }
    if (!err)
        err = raiiaf_stream_open(s, ctx);
    raiiaf_image_info info;
    if (!err)
        err = raiiaf_get_image_info(ctx, &info);
    if (!err && width)
        *width = info.width;
    raiiaf_ctx_free(ctx);
    raiiaf_stream_free(s);
    return err;
}

static int push_all(const void *data, size_t size, raiiaf_stream **out)
{
    raiiaf_stream *s = raiiaf_stream_new();
    int err = raiiaf_stream_push(s, data, size);
    *out = s;
    return err;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test-core-stream FIXTURES NAME...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.raiiaf", argv[1], argv[i]);
        tl_bytes file = tl_read_file(path);
        CHECK(file.data != NULL, "%s: read", path);
        if (!file.data)
            continue;
        raiiaf_ctx *ctx = raiiaf_ctx_new();
        raiiaf_image_info info;
        CHECK(raiiaf_open_memory(ctx, file.data, file.size) == RAIIAF_OK &&
                  raiiaf_get_image_info(ctx, &info) == RAIIAF_OK,
              "%s: opens from memory", argv[i]);
        raiiaf_ctx_free(ctx);
        size_t pieces[] = {1, 7, 33, 4096, file.size};
        for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
            uint32_t width = 0;
            int err = open_in_pieces(&file, pieces[p], &width);
            CHECK(err == RAIIAF_OK && width == info.width, "%s: pieces of %zu: %s", argv[i],
                  pieces[p], raiiaf_strerror(err));
        }

        /* Bytes after the header's size are refused, not taken. */
        raiiaf_stream *s;
        uint8_t *longer = malloc(file.size + 1);
        memcpy(longer, file.data, file.size);
        longer[file.size] = 0;
        CHECK(push_all(longer, file.size + 1, &s) == RAIIAF_EHEADER, "%s: trailing byte",
              argv[i]);
        CHECK(strstr(raiiaf_stream_message(s), "after") != NULL, "message: %s",
              raiiaf_stream_message(s));
        raiiaf_stream_free(s);
        free(longer);

        /* A short input is truncated. */
        CHECK(push_all(file.data, file.size - 1, &s) == RAIIAF_OK, "%s: short push", argv[i]);
        CHECK(raiiaf_stream_wanted(s) == 1, "one byte wanted");
        ctx = raiiaf_ctx_new();
        CHECK(raiiaf_stream_open(s, ctx) == RAIIAF_ETRUNCATED, "%s: short input", argv[i]);
        raiiaf_ctx_free(ctx);
        raiiaf_stream_free(s);
        free(file.data);
    }

    /* Not a .raiiaf file: refused with the first wrong byte. */
    raiiaf_stream *s;
    CHECK(push_all("raiX", 4, &s) == RAIIAF_EMAGIC, "bad magic in 4 bytes");
    CHECK(raiiaf_stream_wanted(s) == 0, "a failed stream wants nothing");
    CHECK(raiiaf_stream_push(s, "iaf", 3) == RAIIAF_EMAGIC, "stays failed");
    raiiaf_stream_free(s);
    CHECK(push_all("rai", 3, &s) == RAIIAF_OK && raiiaf_stream_wanted(s) == 30,
          "a good start waits for the header");
    uint64_t size;
    CHECK(raiiaf_stream_file_size(s, &size) == RAIIAF_EBADSTATE, "no size before the header");
    raiiaf_stream_free(s);

    /* A header over the limit is refused after 33 bytes, before any large
     * buffer exists. */
    uint8_t h[33] = "raiiaf";
    h[6] = 1;
    h[9] = 33;  /* META at 33 */
    h[13] = 10; /* 10 bytes */
    uint64_t claim = 5ULL << 30;
    for (int b = 0; b < 8; b++)
        h[21 + b] = (uint8_t)(claim >> (8 * b));
    CHECK(push_all(h, sizeof h, &s) == RAIIAF_ELIMIT, "5 GiB over the 4 GiB default");
    raiiaf_stream_free(s);
    raiiaf_limits limits;
    raiiaf_limits_default(&limits);
    limits.max_file_size = 8ULL << 30;
    s = raiiaf_stream_new();
    CHECK(raiiaf_stream_set_limits(s, &limits) == RAIIAF_OK, "limits");
    CHECK(raiiaf_stream_push(s, h, sizeof h) == RAIIAF_OK, "within a raised limit");
    CHECK(raiiaf_stream_file_size(s, &size) == RAIIAF_OK && size == claim, "size from header");
    CHECK(raiiaf_stream_wanted(s) == claim - 33, "wants the rest");
    CHECK(raiiaf_stream_set_limits(s, &limits) == RAIIAF_EBADSTATE, "limits only at first");
    const void *data;
    size_t have;
    CHECK(raiiaf_stream_get_data(s, &data, &have) == RAIIAF_OK && have == 33,
          "keeps only what arrived");
    raiiaf_stream_free(s);
    h[6] = 2;
    CHECK(push_all(h, sizeof h, &s) == RAIIAF_EVERSION, "version 2 refused");
    raiiaf_stream_free(s);
    h[6] = 1;
    h[9] = 0;
    memset(h + 21, 0, 8);
    h[22] = 4; /* 1024 bytes */
    CHECK(push_all(h, sizeof h, &s) == RAIIAF_EHEADER, "META inside the header refused");
    raiiaf_stream_free(s);
    s = raiiaf_stream_new();
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    CHECK(raiiaf_stream_open(s, ctx) == RAIIAF_EMAGIC, "nothing pushed");
    raiiaf_ctx_free(ctx);
    raiiaf_stream_free(s);
    return tl_finish();
}
