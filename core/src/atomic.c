/* Files written all or nothing (raiiaf_output): the one write-beside-and-
 * rename of the suite, used by the library's writer, the tools, the
 * thumbnailer and the host plug-ins.
 *
 * The data goes to an unnamed file (O_TMPFILE) in the target's folder when
 * the file system and /proc allow it, so a process killed while writing
 * leaves nothing behind; otherwise to a hidden file named
 * .NAME.raiiaf-tmp-PID-RANDOM; such files of dead processes are removed
 * by the next output opened in that folder. Commit syncs the data, gives it
 * the old file's mode and (where allowed) owner, and renames it over the
 * target, or links it without replacing anything (RAIIAF_OUTPUT_NO_REPLACE).
 * A symbolic link is written through to its target (as cp does); a target
 * with other hard links is rewritten in place from the complete, synced
 * temporary file, so every name keeps seeing the same file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_TAG ".raiiaf-tmp-"
/* A temporary file whose process is gone, or older than this, is stale. */
#define TMP_STALE_SECONDS (60 * 60)
#define MAX_LINKS 40

struct raiiaf_output {
    rf_msg msg;
    int saved_errno;
    unsigned flags;
    int dirfd;            /* the folder the file ends up in */
    char *name;           /* its name there */
    char *display;        /* the path as given, for messages */
    int fd;               /* the temporary file */
    bool unnamed;         /* O_TMPFILE */
    char tmp_name[NAME_MAX + 1]; /* a named temporary file's name, or "" */
    bool exists;          /* the target exists (after following links) */
    struct stat old;      /* ... and what it was */
    bool committed;
};

static int out_fail(raiiaf_output *o, int err, int errnum, const char *what)
{
    o->saved_errno = errnum;
    return rf_fail(&o->msg, err, "%s %s: %s", what, o->display ? o->display : "",
                   strerror(errnum));
}

raiiaf_output *raiiaf_output_new(void)
{
    raiiaf_output *o = calloc(1, sizeof *o);
    if (o) {
        o->dirfd = -1;
        o->fd = -1;
    }
    return o;
}

const char *raiiaf_output_message(const raiiaf_output *o)
{
    return o ? o->msg.text : "";
}

int raiiaf_output_errno(const raiiaf_output *o)
{
    return o ? o->saved_errno : 0;
}

int raiiaf_output_fd(const raiiaf_output *o)
{
    return o ? o->fd : -1;
}

/* Splits path into its folder (opened relative to dirfd) and its last
 * component. */
static int open_parent(int dirfd, const char *path, bool nofollow, int *out_fd, char **out_name)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return EISDIR;
    char *dir = slash ? rf_strndup(path, (size_t)(slash - path)) : rf_strdup(".");
    char *name = rf_strdup(base);
    if (!dir || !name) {
        free(dir);
        free(name);
        return ENOMEM;
    }
    const char *d = slash && slash == path ? "/" : dir;
    int flags = O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
    int fd = openat(dirfd, d, O_RDONLY | flags);
    if (fd < 0 && errno == EACCES)
        fd = openat(dirfd, d, O_PATH | flags);
    int e = errno;
    free(dir);
    if (fd < 0) {
        free(name);
        /* O_NOFOLLOW on a symbolic link to a folder gives ENOTDIR or ELOOP. */
        return nofollow && (e == ENOTDIR || e == ELOOP) ? ELOOP : e;
    }
    *out_fd = fd;
    *out_name = name;
    return 0;
}

/* Follows symbolic links at o->dirfd/o->name to the file they name (which
 * may not exist yet, as cp creates the target of a dangling link). */
static int follow_links(raiiaf_output *o)
{
    for (int hops = 0;; hops++) {
        struct stat st;
        if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return errno == ENOENT ? 0 : errno;
        if (!S_ISLNK(st.st_mode) || (o->flags & RAIIAF_OUTPUT_NO_FOLLOW))
            return 0;
        if (hops == MAX_LINKS)
            return ELOOP;
        char target[PATH_MAX];
        ssize_t n = readlinkat(o->dirfd, o->name, target, sizeof target - 1);
        if (n < 0)
            return errno;
        target[n] = 0;
        int fd;
        char *name;
        int e = open_parent(o->dirfd, target, false, &fd, &name);
        if (e)
            return e;
        close(o->dirfd);
        free(o->name);
        o->dirfd = fd;
        o->name = name;
    }
}

/* Removes .*.raiiaf-tmp-PID-* files whose process is gone or that are
 * older than an hour: what a writer killed while writing left behind. */
static void remove_stale(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *tag = e->d_name[0] == '.' ? strstr(e->d_name, TMP_TAG) : NULL;
        if (!tag)
            continue;
        char *end;
        long pid = strtol(tag + strlen(TMP_TAG), &end, 10);
        if (pid <= 0 || *end != '-')
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        bool dead = pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (dead || now - st.st_mtime > TMP_STALE_SECONDS)
            unlinkat(dirfd, e->d_name, 0);
    }
    closedir(d);
}

/* A new hidden name beside the target; the file is created when fd_out is
 * not NULL, otherwise only the name is chosen (for linkat). */
static int named_temp(raiiaf_output *o, int *fd_out)
{
    size_t base_len = strlen(o->name);
    size_t room = sizeof o->tmp_name - 1 - 1 - strlen(TMP_TAG) - 32;
    if (base_len > room)
        base_len = room;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned r;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)o ^ (unsigned)attempt * 2654435761u;
        snprintf(o->tmp_name, sizeof o->tmp_name, ".%.*s" TMP_TAG "%ld-%08x", (int)base_len,
                 o->name, (long)getpid(), r);
        if (!fd_out) {
            struct stat st;
            if (fstatat(o->dirfd, o->tmp_name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
                return 0;
            continue;
        }
        int fd = openat(o->dirfd, o->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *fd_out = fd;
            return 0;
        }
        if (errno != EEXIST) {
            int e = errno;
            o->tmp_name[0] = 0;
            return e;
        }
    }
    o->tmp_name[0] = 0;
    return EEXIST;
}

static int unnamed_temp(raiiaf_output *o)
{
#ifdef O_TMPFILE
    int fd = openat(o->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    /* Naming it later goes through /proc/self/fd (linkat with AT_EMPTY_PATH
     * needs a capability): without /proc, as in some sandboxes, use a
     * named file instead. */
    char proc[64];
    struct stat st;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (stat(proc, &st) != 0) {
        close(fd);
        return -1;
    }
    return fd;
#else
    (void)o;
    return -1;
#endif
}

int raiiaf_output_openat(raiiaf_output *o, int dirfd, const char *path, unsigned flags)
{
    if (!o || !path || !*path || o->display)
        return o ? rf_fail(&o->msg, RAIIAF_EINVAL, "invalid output") : RAIIAF_EINVAL;
    o->flags = flags;
    o->display = rf_strdup(path);
    if (!o->display)
        return rf_fail(&o->msg, RAIIAF_ENOMEM, "out of memory");
    int e = open_parent(dirfd, path, flags & RAIIAF_OUTPUT_NO_FOLLOW_DIR, &o->dirfd, &o->name);
    if (e == ELOOP && (flags & RAIIAF_OUTPUT_NO_FOLLOW_DIR)) {
        o->saved_errno = e;
        return rf_fail(&o->msg, RAIIAF_EIO,
                       "cannot write %s: its folder is a symbolic link (refused)", path);
    }
    if (e)
        return out_fail(o, RAIIAF_EIO, e, "cannot write");
    if (!(flags & RAIIAF_OUTPUT_NO_REPLACE) && (e = follow_links(o)) != 0)
        return out_fail(o, RAIIAF_EIO, e, "cannot follow the link");
    struct stat st;
    if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode))
            return out_fail(o, RAIIAF_EIO, EISDIR, "cannot write");
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            o->saved_errno = EINVAL;
            return rf_fail(&o->msg, RAIIAF_EIO,
                           "cannot write %s: not a regular file (a device, pipe or socket is "
                           "not replaced)",
                           path);
        }
        if (S_ISREG(st.st_mode)) {
            o->exists = true;
            o->old = st;
        }
    }
    remove_stale(o->dirfd);
    o->fd = unnamed_temp(o);
    o->unnamed = o->fd >= 0;
    if (!o->unnamed) {
        e = named_temp(o, &o->fd);
        if (e)
            return out_fail(o, RAIIAF_EIO, e, "cannot create a file next to");
    }
    return RAIIAF_OK;
}

int raiiaf_output_open(raiiaf_output *o, const char *path, unsigned flags)
{
    return raiiaf_output_openat(o, AT_FDCWD, path, flags);
}

int raiiaf_output_write(raiiaf_output *o, const void *data, size_t size)
{
    if (!o)
        return RAIIAF_EINVAL;
    if (!data && size)
        return RF_BAD_ARGS(&o->msg);
    if (o->fd < 0 || o->committed)
        return rf_fail(&o->msg, RAIIAF_EBADSTATE, "the output is not open");
    const uint8_t *p = data;
    while (size) {
        ssize_t n = write(o->fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return out_fail(o, RAIIAF_EIO, errno, "cannot write");
        p += n;
        size -= (size_t)n;
    }
    return RAIIAF_OK;
}

/* The old file's mode and, where allowed, its owner and group. */
static void keep_attributes(raiiaf_output *o)
{
    if (!o->exists)
        return;
    struct stat now;
    if (fstat(o->fd, &now) == 0 && (now.st_uid != o->old.st_uid || now.st_gid != o->old.st_gid)) {
        if (fchown(o->fd, o->old.st_uid, o->old.st_gid) != 0)
            (void)!fchown(o->fd, (uid_t)-1, o->old.st_gid); /* a group of ours */
    }
    (void)fchmod(o->fd, o->old.st_mode & 07777);
}

/* A target with other hard links keeps its inode: the complete temporary
 * file is copied over it. Space is reserved first, so a full disk fails
 * before the old content is touched. */
static int write_in_place(raiiaf_output *o)
{
    int tfd = openat(o->dirfd, o->name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (tfd < 0)
        return out_fail(o, RAIIAF_EIO, errno, "cannot write");
    struct stat st;
    int err = RAIIAF_OK;
    if (fstat(o->fd, &st) != 0)
        err = out_fail(o, RAIIAF_EIO, errno, "cannot write");
    if (!err && st.st_size > 0) {
        int r = posix_fallocate(tfd, 0, st.st_size);
        if (r != 0 && r != EOPNOTSUPP && r != EINVAL)
            err = out_fail(o, RAIIAF_EIO, r, "cannot write");
    }
    int rfd = -1;
    if (!err) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
        rfd = o->unnamed ? open(proc, O_RDONLY | O_CLOEXEC)
                         : openat(o->dirfd, o->tmp_name, O_RDONLY | O_CLOEXEC);
        if (rfd < 0)
            err = out_fail(o, RAIIAF_EIO, errno, "cannot read back the data for");
    }
    char buf[65536];
    off_t off = 0;
    while (!err && off < st.st_size) {
        ssize_t n = pread(rfd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = out_fail(o, RAIIAF_EIO, n < 0 ? errno : EIO, "cannot read back the data for");
            break;
        }
        for (ssize_t done = 0; done < n && !err;) {
            ssize_t w = pwrite(tfd, buf + done, (size_t)(n - done), off + done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                err = out_fail(o, RAIIAF_EIO, errno, "cannot write");
            else
                done += w;
        }
        off += n;
    }
    if (!err && ftruncate(tfd, st.st_size) != 0)
        err = out_fail(o, RAIIAF_EIO, errno, "cannot write");
    if (!err && fsync(tfd) != 0 && errno != EINVAL)
        err = out_fail(o, RAIIAF_EIO, errno, "cannot write");
    if (rfd >= 0)
        close(rfd);
    if (close(tfd) != 0 && !err)
        err = out_fail(o, RAIIAF_EIO, errno, "cannot write");
    return err;
}

static void discard(raiiaf_output *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    if (o->tmp_name[0])
        unlinkat(o->dirfd, o->tmp_name, 0);
    o->tmp_name[0] = 0;
}

/* Gives the finished temporary file the target's name. */
static int place(raiiaf_output *o)
{
    bool no_replace = o->flags & RAIIAF_OUTPUT_NO_REPLACE;
    if (o->unnamed) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
        if (no_replace) {
            if (linkat(AT_FDCWD, proc, o->dirfd, o->name, AT_SYMLINK_FOLLOW) != 0)
                return out_fail(o, RAIIAF_EIO, errno, "cannot write");
            return RAIIAF_OK;
        }
        /* linkat cannot replace: link under a hidden name, then rename. */
        int e = named_temp(o, NULL);
        if (e)
            return out_fail(o, RAIIAF_EIO, e, "cannot create a file next to");
        if (linkat(AT_FDCWD, proc, o->dirfd, o->tmp_name, AT_SYMLINK_FOLLOW) != 0) {
            o->tmp_name[0] = 0;
            return out_fail(o, RAIIAF_EIO, errno, "cannot write");
        }
    }
    if (no_replace) {
        /* link() fails rather than replace an existing file. */
        if (linkat(o->dirfd, o->tmp_name, o->dirfd, o->name, 0) == 0)
            return RAIIAF_OK;
        if (errno == EEXIST)
            return out_fail(o, RAIIAF_EIO, EEXIST, "cannot write");
        /* A file system without hard links: check, then rename. */
        struct stat st;
        if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return out_fail(o, RAIIAF_EIO, EEXIST, "cannot write");
    }
    if (renameat(o->dirfd, o->tmp_name, o->dirfd, o->name) != 0)
        return out_fail(o, RAIIAF_EIO, errno, "cannot write");
    o->tmp_name[0] = 0;
    return RAIIAF_OK;
}

int raiiaf_output_commit(raiiaf_output *o)
{
    if (!o)
        return RAIIAF_EINVAL;
    if (o->fd < 0 || o->committed)
        return rf_fail(&o->msg, RAIIAF_EBADSTATE, "the output is not open");
    keep_attributes(o);
    int err = RAIIAF_OK;
    /* Pipes and some special files refuse fsync with EINVAL: nothing to do. */
    if (fsync(o->fd) != 0 && errno != EINVAL && errno != EROFS)
        err = out_fail(o, RAIIAF_EIO, errno, "cannot write");
    bool in_place = o->exists && o->old.st_nlink > 1 &&
                    !(o->flags & (RAIIAF_OUTPUT_NO_REPLACE | RAIIAF_OUTPUT_NO_FOLLOW));
    if (!err)
        err = in_place ? write_in_place(o) : place(o);
    if (err) {
        discard(o);
        return err;
    }
    o->committed = true;
    discard(o); /* in place: the temporary file is no longer needed */
    if (!in_place) {
        int dfd = openat(o->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) { /* make the rename itself durable */
            (void)fsync(dfd);
            close(dfd);
        }
    }
    return RAIIAF_OK;
}

int raiiaf_output_remove(raiiaf_output *o)
{
    if (!o)
        return RAIIAF_EBADSTATE;
    if (!o->committed)
        return rf_fail(&o->msg, RAIIAF_EBADSTATE, "nothing committed to remove");
    if (unlinkat(o->dirfd, o->name, 0) != 0)
        return out_fail(o, RAIIAF_EIO, errno, "cannot remove");
    o->committed = false;
    return RAIIAF_OK;
}

void raiiaf_output_free(raiiaf_output *o)
{
    if (!o)
        return;
    discard(o);
    if (o->dirfd >= 0)
        close(o->dirfd);
    free(o->name);
    free(o->display);
    free(o);
}
