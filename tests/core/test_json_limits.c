/* test-json-limits DIR: the library on the files json-limits-test.py made
 * in DIR with craft-json (NAME.raiiaf, made as "WHERE KIND [COUNT]"):
 * error codes, named messages, and the limits in raiiaf_limits moving the
 * line. Every file other than the JSON under test is right. */
#include "raiiaf.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

static const char *dir;

/* Opens DIR/name.raiiaf with limits (NULL: defaults), reads the environment
 * and the text pairs; the first error and its message. */
static int open_and_read(const char *name, const raiiaf_limits *limits, char *msg, size_t msize)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.raiiaf", dir, name);
    raiiaf_ctx *ctx = raiiaf_ctx_new();
    int err = limits ? raiiaf_ctx_set_limits(ctx, limits) : RAIIAF_OK;
    if (!err)
        err = raiiaf_open_file(ctx, path);
    const char *json;
    size_t size;
    if (!err)
        err = raiiaf_get_env_json(ctx, &json, &size);
    if (!err)
        err = raiiaf_get_text_count(ctx, &size);
    if (!err)
        err = raiiaf_verify(ctx);
    snprintf(msg, msize, "%s", raiiaf_ctx_message(ctx));
    raiiaf_ctx_free(ctx);
    return err;
}

static void expect(const char *name, const raiiaf_limits *limits, int want, const char *needle)
{
    char msg[600];
    int err = open_and_read(name, limits, msg, sizeof msg);
    CHECK(err == want, "%s: error %d (%s: %s), expected %d", name, err, raiiaf_strerror(err), msg,
          want);
    CHECK(!needle || strstr(msg, needle), "%s: message '%s' does not name '%s'", name, msg,
          needle);
    if (err == want)
        printf("ok: %s: %s%s%s\n", name, raiiaf_strerror(err), *msg ? ": " : "", msg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    raiiaf_limits lim;
    raiiaf_limits_default(&lim);
    CHECK(lim.max_json_depth == 64 && lim.max_json_values == 500000 &&
              lim.max_json_memory == 64ull << 20,
          "defaults as documented");

    const char *wheres[] = {"manifest", "env"};
    for (int w = 0; w < 2; w++) {
        char name[64];
#define NAME(kind) (snprintf(name, sizeof name, "%s-%s", wheres[w], kind), name)
        /* Bombs: refused by the memory estimate before json-c builds them. */
        expect(NAME("objects"), NULL, RAIIAF_ELIMIT, "bytes of memory once parsed");
        expect(NAME("arrays"), NULL, RAIIAF_ELIMIT, "bytes of memory once parsed");
        expect(NAME("values"), NULL, RAIIAF_ELIMIT, "more than 500000 values");
        expect(NAME("nested"), NULL, RAIIAF_ELIMIT, "nested deeper than 64");
        /* Not JSON as the reference writes it. */
        expect(NAME("comment"), NULL, RAIIAF_EMANIFEST, "comment");
        expect(NAME("single-quote"), NULL, RAIIAF_EMANIFEST, "single-quoted string");
        expect(NAME("nan"), NULL, RAIIAF_EMANIFEST, "'NaN'");
        expect(NAME("infinity"), NULL, RAIIAF_EMANIFEST, "'-Infinity'");
        expect(NAME("trailing-comma"), NULL, RAIIAF_EMANIFEST, "trailing comma");
        expect(NAME("control-char"), NULL, RAIIAF_EMANIFEST, "control character");
        /* Good files, and the limits moving the line. */
        expect(NAME("plain"), NULL, RAIIAF_OK, NULL);
        expect(NAME("objects-1000"), NULL, RAIIAF_OK, NULL);
        raiiaf_limits l = lim;
        l.max_json_values = 900;
        expect(NAME("objects-1000"), &l, RAIIAF_ELIMIT, "more than 900 values");
        l = lim;
        l.max_json_memory = 200000; /* 1000 objects take more */
        expect(NAME("objects-1000"), &l, RAIIAF_ELIMIT, "more than 200000 bytes");
        expect(NAME("nested-60"), NULL, RAIIAF_OK, NULL);
        l = lim;
        l.max_json_depth = 40;
        expect(NAME("nested-60"), &l, RAIIAF_ELIMIT, "nested deeper than 40");
        l = lim;
        l.max_json_depth = 0; /* no limit of ours: json-c's own is then INT32_MAX */
        expect(NAME("nested-60"), &l, RAIIAF_OK, NULL);
    }
    return tl_finish();
}
