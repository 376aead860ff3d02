/* raiiaf_dependency_versions() says what the libraries loaded say at run
 * time: each line against the library's own run-time call (zfp's against
 * its verbose zfp_version_string). Run a second time with a zstd version
 * preloaded (versions_shim.c; RAIIAF_PRELOADED_ZSTD names it): the library
 * must report the preloaded text, not the version it was built against. */
#include "raiiaf.h"
#include "testlib.h"

#include <json-c/json_c_version.h>
#include <libdeflate.h>
#include <nettle/version.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zfp.h>
#include <zstd.h>

/* `name version` is one of the lines of `all`; returns the version. */
static const char *line_of(const char *all, const char *name)
{
    static char version[128];
    size_t n = strlen(name);
    for (const char *l = all; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        if (!strncmp(l, name, n) && l[n] == ' ') {
            size_t len = strcspn(l + n + 1, "\n");
            snprintf(version, sizeof version, "%.*s", (int)len, l + n + 1);
            return version;
        }
    }
    return "";
}

static void expect(const char *all, const char *name, const char *want)
{
    const char *got = line_of(all, name);
    CHECK(!strcmp(got, want), "%s: reported %s, the library says %s", name, got, want);
}

int main(void)
{
    const char *all = raiiaf_dependency_versions();
    char want[64];

    printf("# %s", all);
    CHECK(all == raiiaf_dependency_versions(), "the same text on every call");
    expect(all, "zstd", ZSTD_versionString());
    expect(all, "libpng", png_get_libpng_ver(NULL));
    expect(all, "json-c", json_c_version());
    snprintf(want, sizeof want, "%d.%d", nettle_version_major(), nettle_version_minor());
    expect(all, "nettle", want);
    expect(all, "libdeflate", LIBDEFLATE_VERSION_STRING);
    const char *zfp = line_of(all, "zfp");
    snprintf(want, sizeof want, "version %s ", zfp);
    CHECK(zfp[0] && strstr(zfp_version_string, want), "zfp: reported %s, the library says \"%s\"", zfp,
          zfp_version_string);

    const char *preloaded = getenv("RAIIAF_PRELOADED_ZSTD");
    if (preloaded) {
        CHECK(!strcmp(ZSTD_versionString(), preloaded), "the preloaded zstd (%s) is the one loaded",
              preloaded);
        expect(all, "zstd", preloaded);
    }
    return tl_finish();
}
