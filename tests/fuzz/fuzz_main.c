/* main() for the fuzz target when it is not linked with libFuzzer: runs it
 * once over each file named (folders: each file inside). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: not a readable file\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    size_t got = buf ? fread(buf, 1, n, f) : 0;
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int ran = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                struct stat est;
                /* the files of a folder, not its sub-folders */
                if (e->d_name[0] == '.' || stat(path, &est) != 0 || !S_ISREG(est.st_mode))
                    continue;
                bad += run_file(path);
                ran++;
            }
            if (d)
                closedir(d);
        } else {
            bad += run_file(argv[i]);
            ran++;
        }
    }
    printf("replayed %d inputs, %d unreadable\n", ran, bad);
    return bad ? 1 : 0;
}
