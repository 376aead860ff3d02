/* The element types of latents: one table, everything else asks it.
 * Adding a dtype: its enum value in raiiaf.h, a row here, and its
 * conversion to and from float32 for zfp in latent.c. */
#include "internal.h"

#include <string.h>

static const rf_dtype_desc dtypes[] = {
    [RAIIAF_FLOAT32] = {"float32", "F32", "<f4", 4},
    [RAIIAF_FLOAT16] = {"float16", "F16", "<f2", 2},
};

const rf_dtype_desc *rf_dtype(int dtype)
{
    if (dtype < 0 || (size_t)dtype >= sizeof dtypes / sizeof dtypes[0] || !dtypes[dtype].name)
        return NULL;
    return &dtypes[dtype];
}

int rf_dtype_from_flags(const char *flags)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].flags && !strcmp(dtypes[i].flags, flags))
            return (int)i;
    return -1;
}

size_t raiiaf_dtype_size(int dtype)
{
    const rf_dtype_desc *d = rf_dtype(dtype);
    return d ? d->size : 0;
}

const char *raiiaf_dtype_name(int dtype)
{
    const rf_dtype_desc *d = rf_dtype(dtype);
    return d ? d->name : NULL;
}

const char *raiiaf_dtype_npy_descr(int dtype)
{
    const rf_dtype_desc *d = rf_dtype(dtype);
    return d ? d->npy : NULL;
}
