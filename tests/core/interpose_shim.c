/* A library without symbol versions that defines a function of json-c's
 * name, as json-glib does (json-glib's is its GType getter). Preloaded by
 * interpose-test.py: a library whose json-c calls go through the dynamic
 * symbol table would get this one, since the dynamic linker accepts an
 * unversioned definition for a versioned reference. */
int json_object_get_type(void);
int json_object_get_type(void)
{
    return 0x5a; /* no json_type value */
}
