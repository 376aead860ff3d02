/* raiiaf_output: files written all or nothing, symbolic links written
 * through, hard links kept, mode kept, no-replace, refused folders.
 * Runs in a scratch folder given as argv[1] (created if missing). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raiiaf.h"
#include "testlib.h"

static char dir[4096];

static const char *at(const char *name)
{
    static char buf[4][4352];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static bool has(const char *path, const char *text)
{
    tl_bytes b = tl_read_file(path);
    bool ok = b.data && b.size == strlen(text) && memcmp(b.data, text, b.size) == 0;
    free(b.data);
    return ok;
}

/* Writes text through a raiiaf_output; returns the commit's result. */
static int put(const char *path, unsigned flags, const char *text, int *saved_errno)
{
    raiiaf_output *o = raiiaf_output_new();
    int err = raiiaf_output_open(o, path, flags);
    if (!err)
        err = raiiaf_output_write(o, text, strlen(text));
    if (!err)
        err = raiiaf_output_commit(o);
    if (saved_errno)
        *saved_errno = raiiaf_output_errno(o);
    if (err)
        CHECK(*raiiaf_output_message(o) != 0, "an error without a message");
    raiiaf_output_free(o);
    return err;
}

/* Names in the folder other than . and .. */
static int entries(void)
{
    int n = 0;
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test-core-output SCRATCH_DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/output-test", argv[1]);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        return 2;
    umask(022);

    /* A new file: 0666 less the umask, nothing else left. */
    CHECK(put(at("new"), 0, "one", NULL) == RAIIAF_OK, "new file");
    struct stat st;
    CHECK(stat(at("new"), &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o", st.st_mode & 0777);
    CHECK(has(at("new"), "one"), "content");
    CHECK(entries() == 1, "only the target in the folder, got %d", entries());

    /* Replacing keeps the mode. */
    chmod(at("new"), 0600);
    CHECK(put(at("new"), 0, "two", NULL) == RAIIAF_OK, "replace");
    CHECK(stat(at("new"), &st) == 0 && (st.st_mode & 0777) == 0600, "kept mode %o",
          st.st_mode & 0777);
    CHECK(has(at("new"), "two"), "replaced content");

    /* An uncommitted output leaves the old file and nothing else. */
    raiiaf_output *o = raiiaf_output_new();
    CHECK(raiiaf_output_open(o, at("new"), 0) == RAIIAF_OK, "open");
    CHECK(raiiaf_output_write(o, "partial", 7) == RAIIAF_OK, "write");
    raiiaf_output_free(o);
    CHECK(has(at("new"), "two"), "untouched after abort");
    CHECK(entries() == 1, "abort left %d names", entries());

    /* A symbolic link is written through; the link stays. */
    CHECK(tl_write_file(at("real"), "old", 3), "setup");
    CHECK(symlink("real", at("link")) == 0, "symlink");
    CHECK(put(at("link"), 0, "through", NULL) == RAIIAF_OK, "write through the link");
    CHECK(lstat(at("link"), &st) == 0 && S_ISLNK(st.st_mode), "still a link");
    CHECK(has(at("real"), "through"), "target has the new content");
    /* A dangling link creates its target, as cp does. */
    CHECK(symlink("made-by-link", at("dangling")) == 0, "symlink");
    CHECK(put(at("dangling"), 0, "made", NULL) == RAIIAF_OK, "dangling link");
    CHECK(has(at("made-by-link"), "made"), "dangling link's target created");
    /* NO_FOLLOW replaces the link itself. */
    CHECK(put(at("link"), RAIIAF_OUTPUT_NO_FOLLOW, "own", NULL) == RAIIAF_OK, "no-follow");
    CHECK(lstat(at("link"), &st) == 0 && S_ISREG(st.st_mode), "link replaced by a file");
    CHECK(has(at("real"), "through"), "link target untouched with NO_FOLLOW");

    /* Hard links keep sharing the file. */
    CHECK(tl_write_file(at("hard1"), "old content, longer", 19), "setup");
    CHECK(link(at("hard1"), at("hard2")) == 0, "link");
    struct stat before;
    stat(at("hard1"), &before);
    CHECK(put(at("hard1"), 0, "new", NULL) == RAIIAF_OK, "rewrite a hard-linked file");
    CHECK(has(at("hard2"), "new"), "the other name sees the new content");
    CHECK(stat(at("hard1"), &st) == 0 && st.st_ino == before.st_ino && st.st_nlink == 2,
          "same inode, two links");

    /* NO_REPLACE: EEXIST for a file and for a link, the old one kept. */
    int e = 0;
    CHECK(put(at("new"), RAIIAF_OUTPUT_NO_REPLACE, "three", &e) == RAIIAF_EIO && e == EEXIST,
          "no-replace on a file: errno %d", e);
    CHECK(has(at("new"), "two"), "kept");
    CHECK(put(at("dangling"), RAIIAF_OUTPUT_NO_REPLACE, "x", &e) == RAIIAF_EIO && e == EEXIST,
          "no-replace on a link: errno %d", e);
    CHECK(put(at("fresh"), RAIIAF_OUTPUT_NO_REPLACE, "four", NULL) == RAIIAF_OK, "no-replace new");
    CHECK(has(at("fresh"), "four"), "content");

    /* A committed file can be taken back. */
    o = raiiaf_output_new();
    CHECK(raiiaf_output_open(o, at("taken-back"), RAIIAF_OUTPUT_NO_REPLACE) == RAIIAF_OK, "open");
    CHECK(raiiaf_output_commit(o) == RAIIAF_OK, "commit empty");
    CHECK(raiiaf_output_remove(o) == RAIIAF_OK, "remove");
    raiiaf_output_free(o);
    CHECK(access(at("taken-back"), F_OK) != 0, "removed");

    /* NO_FOLLOW_DIR refuses a folder that is a symbolic link. */
    CHECK(mkdir(at("sub"), 0777) == 0 && symlink("sub", at("subl")) == 0, "setup");
    CHECK(put(at("subl/f"), RAIIAF_OUTPUT_NO_FOLLOW_DIR, "x", NULL) == RAIIAF_EIO,
          "symlinked folder refused");
    CHECK(access(at("sub/f"), F_OK) != 0, "nothing written through the folder link");
    CHECK(put(at("sub/f"), RAIIAF_OUTPUT_NO_FOLLOW_DIR, "x", NULL) == RAIIAF_OK, "real folder");

    /* Folders and FIFOs are not replaced. */
    CHECK(put(at("sub"), 0, "x", NULL) == RAIIAF_EIO, "folder refused");
    CHECK(mkfifo(at("fifo"), 0600) == 0, "mkfifo");
    CHECK(put(at("fifo"), 0, "x", NULL) == RAIIAF_EIO, "FIFO refused");
    CHECK(lstat(at("fifo"), &st) == 0 && S_ISFIFO(st.st_mode), "FIFO kept");

    /* A stale temporary file of a dead process is removed by the next
     * output opened in the folder; one of a live process (ours) is not. */
    char live[64];
    snprintf(live, sizeof live, ".y.raiiaf-tmp-%ld-0000abcd", (long)getpid());
    CHECK(tl_write_file(at(".x.raiiaf-tmp-999999999-0000abcd"), "stale", 5), "setup");
    CHECK(tl_write_file(at(live), "live", 4), "setup");
    CHECK(put(at("another"), 0, "x", NULL) == RAIIAF_OK, "another");
    CHECK(access(at(".x.raiiaf-tmp-999999999-0000abcd"), F_OK) != 0, "stale file removed");
    CHECK(access(at(live), F_OK) == 0, "a live process's file kept");

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 2;
    return tl_finish();
}
