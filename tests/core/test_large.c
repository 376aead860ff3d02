/* An image chunk over 4 MiB read from a file goes through the streaming
 * zstd path (smaller chunks are read whole): it must give the same bytes as
 * a read from memory, and fail cleanly on the same damage. */
#include "raiiaf.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIDE 1400 /* RGBA8 noise, PNG level 0: about 7.5 MiB */

static int read_file_all(const char *path, char *msg, size_t msg_size)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int err = raiiaf_open_file(ctx, path);
    if (!err)
        err = raiiaf_verify(ctx);
    snprintf(msg, msg_size, "%s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    return err;
}

int main(void)
{
    uint8_t *px = malloc((size_t)SIDE * SIDE * 4);
    uint32_t state = 12345;
    for (size_t i = 0; i < (size_t)SIDE * SIDE * 4; i++) {
        state = state * 1103515245u + 12345u;
        px[i] = (uint8_t)(state >> 16);
    }
    raiiaf_writer *w = raiiaf_writer_new();
    raiiaf_pixels p = {.width = SIDE, .height = SIDE, .format = RAIIAF_FMT_RGBA8, .data = px};
    CHECK(raiiaf_writer_set_image_pixels(w, &p, 0) == RAIIAF_OK, "pixels: %s", raiiaf_writer_message(w));
    void *mem;
    size_t mem_size;
    CHECK(raiiaf_writer_write_memory(w, &mem, &mem_size) == RAIIAF_OK, "write: %s", raiiaf_writer_message(w));
    raiiaf_writer_free(w);
    CHECK(mem_size > (5u << 20), "the image chunk is large (%zu bytes)", mem_size);

    char dir[] = "/tmp/raiiaf-large-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char path[256];
    snprintf(path, sizeof path, "%s/large.raiiaf", dir);
    tl_write_file(path, mem, mem_size);

    /* The same image bytes from the file (streamed) and from memory. */
    raiiaf_ctx *from_file = raiiaf_ctx_new(), *from_mem = raiiaf_ctx_new();
    CHECK(raiiaf_open_file(from_file, path) == RAIIAF_OK, "open file: %s", raiiaf_ctx_message(from_file));
    CHECK(raiiaf_open_memory(from_mem, mem, mem_size) == RAIIAF_OK, "open memory");
    const void *a, *b;
    size_t as = 0, bs = 0;
    CHECK(raiiaf_get_image_data(from_file, &a, &as) == RAIIAF_OK, "image from file: %s",
          raiiaf_ctx_message(from_file));
    CHECK(raiiaf_get_image_data(from_mem, &b, &bs) == RAIIAF_OK, "image from memory");
    CHECK(as == bs && as > (4u << 20) && !memcmp(a, b, as), "same image bytes (%zu)", as);
    uint8_t *back = malloc((size_t)SIDE * SIDE * 4);
    CHECK(raiiaf_decode_image(from_file, RAIIAF_FMT_RGBA8, back, (size_t)SIDE * SIDE * 4) == RAIIAF_OK &&
              !memcmp(back, px, (size_t)SIDE * SIDE * 4),
          "pixels back");
    free(back);
    /* A buffer of 8 MiB or more is faulted in on a second thread while the
     * image inflates (raiiaf_ctx_set_threads 0, the default); with 1, all
     * on this one. The same pixels either way, and the bytes past the
     * image untouched. */
    size_t big = (size_t)9 << 20, need = (size_t)SIDE * SIDE * 4;
    for (int threads = 0; threads <= 1; threads++) {
        uint8_t *buf = malloc(big);
        memset(buf + need, 0xa5, big - need);
        CHECK(raiiaf_ctx_set_threads(from_file, threads) == RAIIAF_OK, "threads %d", threads);
        CHECK(raiiaf_decode_image(from_file, RAIIAF_FMT_RGBA8, buf, big) == RAIIAF_OK &&
                  !memcmp(buf, px, need),
              "pixels back into a large buffer, threads %d: %s", threads,
              raiiaf_ctx_message(from_file));
        size_t i = need;
        while (i < big && buf[i] == 0xa5)
            i++;
        CHECK(i == big, "threads %d: the buffer past the image is left as it was", threads);
        free(buf);
    }
    CHECK(raiiaf_ctx_set_threads(from_file, -1) == RAIIAF_EINVAL, "threads -1 refused");
    raiiaf_ctx_free(from_file);
    raiiaf_ctx_free(from_mem);

    /* Damage in the streamed chunk, found by the streaming path. */
    tl_bytes f = {mem, mem_size};
    json_object *m = tl_manifest(&f);
    uint64_t off, size;
    tl_record_span(m, 0, &off, &size); /* no latents: record 0 is DATA */
    char msg[600];
    struct { uint64_t at; const char *what; } flips[] = {
        {off + 1, "zstd magic"}, {off + size / 2, "middle"}, {off + size - 2, "end"}};
    for (size_t k = 0; k < 3; k++) {
        tl_bytes t = tl_copy(mem, mem_size);
        t.data[flips[k].at] ^= 0x5a;
        tl_write_file(path, t.data, t.size);
        int err = read_file_all(path, msg, sizeof msg);
        CHECK(err != RAIIAF_OK && strstr(msg, "DATA"), "flip at %s: %s (%s)", flips[k].what,
              raiiaf_strerror(err), msg);
        free(t.data);
    }
    /* A record that claims fewer bytes than the frame holds. */
    json_object *r = json_object_array_get_idx(
        json_object_object_get(json_object_object_get(m, "raiiaf_metadata"), "chunks"), 0);
    json_object_object_add(r, "uncompressed_size", json_object_new_int64((int64_t)as - 1000));
    tl_bytes t = tl_with_manifest(&f, m);
    tl_write_file(path, t.data, t.size);
    int err = read_file_all(path, msg, sizeof msg);
    CHECK(err == RAIIAF_EZSTD, "size lies: %s (%s)", raiiaf_strerror(err), msg);
    free(t.data);
    /* A record whose compressed size ends inside the frame. */
    json_object_object_add(r, "uncompressed_size", json_object_new_int64((int64_t)as));
    json_object_object_add(r, "compressed_size", json_object_new_int64((int64_t)size - 100));
    t = tl_with_manifest(&f, m);
    tl_write_file(path, t.data, t.size);
    err = read_file_all(path, msg, sizeof msg);
    CHECK(err == RAIIAF_EZSTD, "frame cut short: %s (%s)", raiiaf_strerror(err), msg);
    free(t.data);
    json_object_put(m);

    unlink(path);
    rmdir(dir);
    raiiaf_free(mem);
    free(px);
    return tl_finish();
}
