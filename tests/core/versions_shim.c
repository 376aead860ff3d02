/* Preloaded by the test core-versions-preloaded: a zstd that says another
 * version, which raiiaf_dependency_versions() must report. */
const char *ZSTD_versionString(void);
const char *ZSTD_versionString(void)
{
    return "0.0.1-preloaded";
}
