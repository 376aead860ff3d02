/* Helpers shared by the raiiaf tool's subcommands.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef RAIIAF_TOOL_COMMON_H
#define RAIIAF_TOOL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raiiaf.h"

/* Exit codes scripts rely on (documented in --help). */
enum {
    TOOL_EXIT_OK = 0,
    TOOL_EXIT_FAILURE = 1, /* a bad or unreadable file, or an output that
                              could not be written */
    TOOL_EXIT_USAGE = 2    /* wrong command line */
};

/* The subcommands: argv[0] is "raiiaf NAME". */
int cmd_info(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_diff(int argc, char **argv);

/* "raiiaf: " + message + newline on stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "PROG: MESSAGE\nTry 'PROG --help'." on stderr and returns
 * TOOL_EXIT_USAGE. */
int tool_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After getopt_long has printed its own complaint: "Try 'PROG --help'.";
 * returns TOOL_EXIT_USAGE. */
int tool_usage_hint(const char *prog);

/* "raiiaf 0.1.0 (libraiiaf 0.1.0)" and the library's dependencies. */
void tool_print_version(FILE *out);

/* Text from a file (keys, prompts, paths) made safe for a terminal:
 * control characters and invalid UTF-8 become \xNN escapes, so that a
 * hostile file cannot send escape sequences. Newlines are kept and followed
 * by `indent` when indent is not NULL; otherwise they are escaped as \n. */
void tool_print_text(FILE *out, const char *text, const char *indent);

/* Text from a file or the command line (a path) as valid UTF-8 for JSON:
 * each byte that is not part of valid UTF-8 (or is a C1 control) becomes
 * the four characters \xNN. malloc'd; NULL when out of memory. */
char *tool_utf8_text(const char *text);

/* Reads a whole file of at most max_size bytes, NUL-terminated (the NUL is
 * not counted in *size). On failure returns -1 with a sentence in err. */
int tool_read_file(const char *path, uint64_t max_size, char **data, size_t *size, char *err,
                   size_t err_size);

/* mkdir -p. On failure returns -1 with a sentence in err. */
int tool_make_dirs(const char *path, char *err, size_t err_size);
/* mkdir of one sub-folder the tool makes inside a folder it was given;
 * refuses one that exists as a symbolic link. */
int tool_make_subdir(const char *path, char *err, size_t err_size);

/* Outputs written all or nothing, each through the library's atomic writer
 * (raiiaf_output): written beside its target, then tool_outputs_commit()
 * moves them all into place, and tool_outputs_abort() removes them. A
 * symbolic link at a target's name is never followed: without `replace` it
 * counts as an existing file, with it the link itself is replaced. */
typedef struct tool_output {
    char *path;           /* final name */
    raiiaf_output *out;
} tool_output;

typedef struct tool_outputs {
    tool_output *items;
    size_t count, capacity;
    bool replace;         /* --force: replace existing files */
} tool_outputs;

/* Creates the temporary file for `path` and returns its descriptor (owned
 * by the set: do not close it), or -1 with a sentence in err. */
int tool_outputs_create(tool_outputs *set, const char *path, char *err, size_t err_size);
/* The same for a file in a sub-folder the tool made itself: that folder
 * must not be a symbolic link (an attacker's DIR/latents -> elsewhere). */
int tool_outputs_create_in_subdir(tool_outputs *set, const char *path, char *err,
                                  size_t err_size);
/* Without set->replace, a target that appeared meanwhile is not replaced
 * and the files already committed are taken back. */
int tool_outputs_commit(tool_outputs *set, char *err, size_t err_size);
void tool_outputs_abort(tool_outputs *set);
void tool_outputs_free(tool_outputs *set);

/* Writes all of buf to fd; 0 or -1 with errno. */
int tool_write_all(int fd, const void *buf, size_t size);

/* Names for enum values. */
const char *tool_storage_name(int storage);
const char *tool_format_name(int format);
const char *tool_color_type_name(int png_color_type);

/* "1x4x64x64" into out. */
void tool_format_shape(const uint64_t *shape, unsigned ndim, char *out, size_t out_size);

#endif
