/* raiiaf verify: check every record and payload of each file.
 *
 * SPDX-License-Identifier: MIT
 */
#include <getopt.h>
#include <stdio.h>

#include "common.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: raiiaf verify [OPTIONS] FILE...\n"
            "\n"
            "Checks each file as a reader would before trusting it: the header, the\n"
            "manifest, every chunk record (bounds, types, shapes, sizes), and every\n"
            "payload (zstd and zfp streams, sizes, sha256, finite latent values), and\n"
            "decodes the image's pixels row by row, so that a PNG broken under a true\n"
            "hash is found too.\n"
            "\n"
            "Prints one line per file on standard output:\n"
            "  FILE: ok\n"
            "  FILE: error: MESSAGE\n"
            "\n"
            "Options:\n"
            "  -q, --quiet   print only the files that fail\n"
            "  -h, --help    show this help\n"
            "\n"
            "Exit status: 0 if every file is good, 1 if any is bad or unreadable,\n"
            "2 wrong usage.\n");
}

int cmd_verify(int argc, char **argv)
{
    static const struct option options[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = true; break;
        case 'h': print_help(stdout); return TOOL_EXIT_OK;
        default: return tool_usage_hint(argv[0]);
        }
    }
    if (optind >= argc)
        return tool_usage_error(argv[0], "no file given");

    int status = TOOL_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        raiiaf_ctx *ctx = raiiaf_ctx_new();
        int rc = ctx ? raiiaf_open_file(ctx, path) : RAIIAF_ENOMEM;
        if (rc == RAIIAF_OK)
            rc = raiiaf_verify(ctx);
        if (rc == RAIIAF_OK) {
            if (!quiet) {
                tool_print_text(stdout, path, NULL);
                fputs(": ok\n", stdout);
            }
        } else {
            tool_print_text(stdout, path, NULL);
            fputs(": error: ", stdout);
            tool_print_text(stdout, raiiaf_ctx_message(ctx), NULL);
            fputc('\n', stdout);
            status = TOOL_EXIT_FAILURE;
        }
        raiiaf_ctx_free(ctx);
    }
    if (fflush(stdout) != 0)
        return TOOL_EXIT_FAILURE;
    return status;
}
