/* The API's promises that hold for every call: a failed call always leaves
 * a message (no caller needs raiiaf_strerror() as a fallback), and the
 * dtype table answers for every dtype. */
#include "raiiaf.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

static char path[4096];

#define FAILS_WITH_MESSAGE(call, message_of)                                                \
    do {                                                                                    \
        int err_ = (call);                                                                  \
        const char *m_ = (message_of);                                                      \
        CHECK(err_ != RAIIAF_OK && m_ && *m_, "%s: error %d, message \"%s\"", #call, err_,  \
              m_ ? m_ : "(null)");                                                          \
    } while (0)

static void reader_calls(void)
{
    raiiaf_ctx *ctx = raiiaf_ctx_new();
#define R(call) FAILS_WITH_MESSAGE(call, raiiaf_ctx_message(ctx))
    /* Nothing opened yet. */
    R(raiiaf_verify(ctx));
    R(raiiaf_ctx_set_limits(ctx, NULL));
    R(raiiaf_open_memory(ctx, NULL, 5));
    R(raiiaf_open_file(ctx, NULL));
    int err = raiiaf_open_file(ctx, path);
    CHECK(err == RAIIAF_OK, "open %s: %s", path, raiiaf_ctx_message(ctx));
    CHECK(raiiaf_ctx_message(ctx)[0] == '\0', "no message after success: %s", raiiaf_ctx_message(ctx));
    R(raiiaf_ctx_set_limits(ctx, NULL));
    R(raiiaf_get_header(ctx, NULL));
    R(raiiaf_get_image_info(ctx, NULL));
    R(raiiaf_get_image_data(ctx, NULL, NULL));
    R(raiiaf_decode_image(ctx, RAIIAF_FMT_RGB8, NULL, 0));
    R(raiiaf_decode_image(ctx, 99, (void *)path, 1));
    R(raiiaf_decoded_image_size(ctx, RAIIAF_FMT_RGB8, NULL));
    R(raiiaf_decode_row(ctx, path, sizeof path));
    R(raiiaf_decode_rows_begin(ctx, 0));
    R(raiiaf_get_latent_count(ctx, NULL));
    R(raiiaf_get_latent_info(ctx, 0, NULL));
    R(raiiaf_get_latent_info(ctx, 1000, NULL));
    R(raiiaf_decode_latent(ctx, 0, NULL, 16));
    R(raiiaf_decode_latent(ctx, 0, path, 1));
    R(raiiaf_get_latent_stored(ctx, 0, NULL, NULL));
    R(raiiaf_get_text_count(ctx, NULL));
    R(raiiaf_get_text(ctx, 100000, NULL, NULL));
    R(raiiaf_get_parameters_text(ctx, NULL));
    R(raiiaf_open_memory(ctx, path, 1));
    raiiaf_writer *w = NULL;
    R(raiiaf_writer_new_from(ctx, NULL));
#undef R
    raiiaf_ctx_free(ctx);
    CHECK(raiiaf_ctx_message(NULL)[0] != '\0', "a NULL context has a message");
    (void)w;
}

static void writer_calls(void)
{
    raiiaf_writer *w = raiiaf_writer_new();
#define W(call) FAILS_WITH_MESSAGE(call, raiiaf_writer_message(w))
    uint64_t shape[4] = {1, 1, 2, 2};
    float data[4] = {0};
    W(raiiaf_writer_set_image_png(w, NULL, 0));
    W(raiiaf_writer_set_image_png(w, "not png", 7));
    W(raiiaf_writer_set_image_pixels(w, NULL, 6));
    W(raiiaf_writer_recompress_image(w, 6));
    W(raiiaf_writer_add_latent(w, NULL, RAIIAF_FLOAT32, shape, 4, data, sizeof data, 0));
    W(raiiaf_writer_add_latent(w, "k", 7, shape, 4, data, sizeof data, 0));
    W(raiiaf_writer_add_latent(w, "k", RAIIAF_FLOAT32, shape, 3, data, sizeof data, 0));
    W(raiiaf_writer_add_latent_stored(w, NULL, 0));
    W(raiiaf_writer_add_latent_stored(w, "RAIIAFLT", 8));
    W(raiiaf_writer_set_latent_storage(w, 9));
    W(raiiaf_writer_set_metadata_json(w, NULL, 0));
    W(raiiaf_writer_set_metadata_json(w, "[", 1));
    W(raiiaf_writer_set_text(w, NULL, "x"));
    W(raiiaf_writer_set_extra_json(w, "k", NULL));
    W(raiiaf_writer_set_extra_json(w, "chunks", "1"));
    W(raiiaf_writer_set_env_json(w, NULL, 0));
    W(raiiaf_writer_set_env_json(w, "[]", 2));
    W(raiiaf_writer_set_software(w, NULL, NULL, NULL));
    void *out;
    size_t size;
    W(raiiaf_writer_write_memory(w, NULL, NULL));
    W(raiiaf_writer_write_memory(w, &out, &size)); /* no image */
    W(raiiaf_writer_write_file(w, NULL));
    W(raiiaf_writer_write_file(w, "x.raiiaf")); /* no image */
#undef W
    raiiaf_writer_free(w);
    CHECK(raiiaf_writer_message(NULL)[0] != '\0', "a NULL writer has a message");
}

static void dtypes(void)
{
    int n = 0;
    for (int d = 0; raiiaf_dtype_name(d); d++, n++) {
        const char *descr = raiiaf_dtype_npy_descr(d);
        size_t size = raiiaf_dtype_size(d);
        CHECK(descr && descr[0] == '<' && (size_t)atoi(descr + 2) == size,
              "dtype %d: descr %s, size %zu", d, descr ? descr : "(null)", size);
    }
    CHECK(n == 2, "float32 and float16: %d dtypes", n);
    CHECK(!strcmp(raiiaf_dtype_name(RAIIAF_FLOAT32), "float32") &&
              !strcmp(raiiaf_dtype_name(RAIIAF_FLOAT16), "float16"),
          "dtype names");
    CHECK(raiiaf_dtype_size(-1) == 0 && raiiaf_dtype_size(n) == 0 && !raiiaf_dtype_name(-1) &&
              !raiiaf_dtype_npy_descr(n),
          "unknown dtypes have no size, name or descr");
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    snprintf(path, sizeof path, "%s/%s.raiiaf", argv[1], argv[2]);
    reader_calls();
    writer_calls();
    dtypes();
    return tl_finish();
}
