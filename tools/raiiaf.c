/* raiiaf: inspect, check, unpack and build .raiiaf files.
 *
 * SPDX-License-Identifier: MIT
 *
 * One subcommand per file (info.c, verify.c, extract.c, pack.c); this file
 * only dispatches. Exit codes: 0 success, 1 a bad or unreadable file (or an
 * output that could not be written), 2 wrong usage.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "print header, model, prompt, settings, latents and environment"},
    {"verify", cmd_verify, "check every record and payload of each file"},
    {"extract", cmd_extract, "write the image, latents (.npy), manifest and environment to a folder"},
    {"pack", cmd_pack, "build a file from a PNG, .npy latents and metadata JSON"},
    {"diff", cmd_diff, "say what differs between two files (metadata, image, latents)"},
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: raiiaf COMMAND [OPTIONS] [ARGS...]\n"
            "       raiiaf --help | --version\n"
            "\n"
            "Read and write .raiiaf files (an AI-generated image with its latents,\n"
            "model, prompt, settings and software environment).\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "'raiiaf COMMAND --help' describes a command.\n"
            "\n"
            "Exit status: 0 success, 1 a bad or unreadable file (or an output that\n"
            "could not be written), 2 wrong usage.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_usage(stdout);
        return TOOL_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        tool_print_version(stdout);
        return TOOL_EXIT_OK;
    }
    /* "raiiaf help COMMAND" is "raiiaf COMMAND --help". */
    static char help_arg[] = "--help";
    char *help_argv[4];
    if (strcmp(name, "help") == 0) {
        if (argc == 2) {
            print_usage(stdout);
            return TOOL_EXIT_OK;
        }
        name = argv[2];
        help_argv[0] = argv[0];
        help_argv[1] = argv[2];
        help_argv[2] = help_arg;
        help_argv[3] = NULL;
        argv = help_argv;
        argc = 3;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        /* The subcommand sees argv[0] = "raiiaf NAME", which getopt_long
         * puts in front of its own messages. */
        char prog[32];
        snprintf(prog, sizeof prog, "raiiaf %s", commands[i].name);
        argv[1] = prog;
        return commands[i].run(argc - 1, argv + 1);
    }
    if (name[0] == '-')
        fprintf(stderr, "raiiaf: unknown option '%s'\n", name);
    else
        fprintf(stderr, "raiiaf: unknown command '%s'\n", name);
    fprintf(stderr, "Try 'raiiaf --help'.\n");
    return TOOL_EXIT_USAGE;
}
