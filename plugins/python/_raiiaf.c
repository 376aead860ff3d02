/* pyraiiaf._raiiaf: the CPython binding of libraiiaf.
 *
 * SPDX-License-Identifier: MIT
 *
 * A thin translation of raiiaf.h into Python objects: Reader wraps a
 * raiiaf_ctx, Writer a raiiaf_writer. Every library error becomes
 * pyraiiaf.Error (an OSError) carrying the library's message and code.
 * Latents come out as NumPy arrays in the file's dtype and shape. The GIL is
 * released while the library reads, decodes and writes; each Reader and
 * Writer has a lock, so one used from several threads is used by one at a
 * time. The format logic is the library's;
 * the Python package (pyraiiaf/) maps these objects onto Pillow and dicts.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <string.h>

#include "raiiaf.h"

static PyObject *Error; /* pyraiiaf.Error, an OSError subclass */

/* Raises Error(message) with .code set; returns NULL. */
static PyObject *raise_error(int code, const char *message)
{
    if (!message || !*message)
        message = raiiaf_strerror(code);
    PyObject *exc = PyObject_CallFunction(Error, "s", message);
    if (!exc)
        return NULL;
    PyObject *c = PyLong_FromLong(code);
    if (c) {
        PyObject_SetAttrString(exc, "code", c);
        Py_DECREF(c);
    }
    PyObject_SetAttrString(exc, "message", PyTuple_GET_ITEM(((PyBaseExceptionObject *)exc)->args, 0));
    PyErr_SetObject(Error, exc);
    Py_DECREF(exc);
    return NULL;
}

/* One thread at a time in a Reader's or Writer's library object: their
 * methods release the GIL while the library works, and a raiiaf_ctx or
 * raiiaf_writer must not be used from two threads at once. Every method
 * runs under its object's lock; a thread that finds it taken waits without
 * the GIL, so the thread inside can take the GIL back and finish. */
static int object_lock(PyThread_type_lock lock, unsigned long *owner)
{
    unsigned long me = PyThread_get_thread_ident();
    if (!PyThread_acquire_lock(lock, NOWAIT_LOCK)) {
        if (*owner == me) { /* waiting would never end */
            PyErr_SetString(PyExc_RuntimeError,
                             "a Reader or Writer used again from inside one of its own calls");
            return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    *owner = me; /* owner is only read and written with the GIL held */
    return 0;
}

static void object_unlock(PyThread_type_lock lock, unsigned long *owner)
{
    *owner = 0;
    PyThread_release_lock(lock);
}

/* NAME_locked(self, arg): NAME(self, arg) under self->lock, for the
 * method tables (METH_NOARGS, METH_O and METH_VARARGS alike). */
#define LOCKED(type, name)                                                   \
    static PyObject *name##_locked(type *self, PyObject *arg)                \
    {                                                                        \
        if (object_lock(self->lock, &self->owner) < 0)                       \
            return NULL;                                                     \
        PyObject *r = name(self, arg);                                       \
        object_unlock(self->lock, &self->owner);                             \
        return r;                                                            \
    }

/* tp_new and tp_init of both types: the object with its lock, and
 * TYPE_init under it. */
#define WITH_LOCK(type)                                                      \
    static PyObject *type##_new(PyTypeObject *t, PyObject *args, PyObject *kw) \
    {                                                                        \
        (void)args;                                                          \
        (void)kw;                                                            \
        type *self = (type *)t->tp_alloc(t, 0);                              \
        if (self && !(self->lock = PyThread_allocate_lock())) {              \
            Py_DECREF(self);                                                 \
            return PyErr_NoMemory();                                         \
        }                                                                    \
        return (PyObject *)self;                                             \
    }                                                                        \
    static int type##_init_locked(type *self, PyObject *args, PyObject *kw)  \
    {                                                                        \
        if (object_lock(self->lock, &self->owner) < 0)                       \
            return -1;                                                       \
        int r = type##_init(self, args, kw);                                 \
        object_unlock(self->lock, &self->owner);                             \
        return r;                                                            \
    }

/* ------------------------------------------------------------------ Reader */

typedef struct {
    PyObject_HEAD
    raiiaf_ctx *ctx;
    raiiaf_stream *stream; /* input read from a file object */
    Py_buffer view;        /* bytes given to open_memory, borrowed by ctx */
    int has_view;
    PyThread_type_lock lock;
    unsigned long owner;   /* the thread holding lock, else 0 */
} Reader;

#define CTX_FAIL(self, err) raise_error((err), raiiaf_ctx_message((self)->ctx))

static void Reader_dealloc(Reader *self)
{
    raiiaf_ctx_free(self->ctx);
    raiiaf_stream_free(self->stream);
    if (self->has_view)
        PyBuffer_Release(&self->view);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int set_limits(Reader *self, unsigned long long max_pixels)
{
    if (max_pixels) {
        int err = raiiaf_ctx_set_pixel_limit(self->ctx, max_pixels);
        if (err) {
            CTX_FAIL(self, err);
            return -1;
        }
    }
    return 0;
}

/* Reader(source, max_pixels=0): source is a path (str/bytes/PathLike
 * naming a file), a bytes-like object holding a whole file, or a binary
 * file object read to its end in pieces through raiiaf_stream (limits
 * checked before memory is spent). */
static int Reader_init(Reader *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"source", "max_pixels", NULL};
    PyObject *source;
    unsigned long long max_pixels = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|K", kwlist, &source, &max_pixels))
        return -1;
    if (self->ctx) {
        PyErr_SetString(PyExc_RuntimeError, "Reader already initialised");
        return -1;
    }
    self->ctx = raiiaf_ctx_new();
    if (!self->ctx) {
        PyErr_NoMemory();
        return -1;
    }
    if (set_limits(self, max_pixels) < 0)
        return -1;
    int err;
    if (PyUnicode_Check(source) || PyObject_HasAttrString(source, "__fspath__")) {
        PyObject *path = NULL;
        if (!PyUnicode_FSConverter(source, &path))
            return -1;
        const char *p = PyBytes_AS_STRING(path);
        Py_BEGIN_ALLOW_THREADS
        err = raiiaf_open_file(self->ctx, p);
        Py_END_ALLOW_THREADS
        if (err) {
            /* Name the file, as OSError does. */
            PyObject *msg = PyUnicode_FromFormat("%s: %s", p, raiiaf_ctx_message(self->ctx));
            Py_DECREF(path);
            if (msg) {
                raise_error(err, PyUnicode_AsUTF8(msg));
                Py_DECREF(msg);
            }
            return -1;
        }
        Py_DECREF(path);
    } else if (PyObject_CheckBuffer(source)) {
        if (PyObject_GetBuffer(source, &self->view, PyBUF_SIMPLE) < 0)
            return -1;
        self->has_view = 1;
        err = raiiaf_open_memory(self->ctx, self->view.buf, (size_t)self->view.len);
    } else if (PyObject_HasAttrString(source, "read")) {
        self->stream = raiiaf_stream_new();
        if (!self->stream) {
            PyErr_NoMemory();
            return -1;
        }
        for (;;) {
            uint64_t want = raiiaf_stream_wanted(self->stream);
            if (want == 0)
                break;
            if (want > (1u << 20))
                want = 1u << 20;
            PyObject *piece = PyObject_CallMethod(source, "read", "K", (unsigned long long)want);
            if (!piece)
                return -1;
            Py_buffer b;
            if (PyObject_GetBuffer(piece, &b, PyBUF_SIMPLE) < 0) {
                Py_DECREF(piece);
                return -1;
            }
            int empty = b.len == 0;
            err = empty ? RAIIAF_OK : raiiaf_stream_push(self->stream, b.buf, (size_t)b.len);
            PyBuffer_Release(&b);
            Py_DECREF(piece);
            if (err) {
                raise_error(err, raiiaf_stream_message(self->stream));
                return -1;
            }
            if (empty)
                break;
        }
        err = raiiaf_stream_open(self->stream, self->ctx);
        if (err && !*raiiaf_ctx_message(self->ctx)) {
            raise_error(err, raiiaf_stream_message(self->stream));
            return -1;
        }
    } else {
        PyErr_SetString(PyExc_TypeError, "source must be a path, bytes or a binary file object");
        return -1;
    }
    if (err) {
        CTX_FAIL(self, err);
        return -1;
    }
    return 0;
}

static PyObject *Reader_header(Reader *self, PyObject *unused)
{
    raiiaf_header h;
    int err = raiiaf_get_header(self->ctx, &h);
    if (err)
        return CTX_FAIL(self, err);
    return Py_BuildValue("{s:i,s:i,s:i,s:k,s:k,s:k,s:K,s:k}", "version_major", h.version_major,
                         "version_minor", h.version_minor, "flags", h.flags,
                         "chunk_table_offset", (unsigned long)h.chunk_table_offset,
                         "chunk_table_size", (unsigned long)h.chunk_table_size,
                         "chunk_count", (unsigned long)h.chunk_count,
                         "file_size", (unsigned long long)h.file_size,
                         "reserved", (unsigned long)h.reserved);
}

static PyObject *Reader_manifest_json(Reader *self, PyObject *unused)
{
    const char *json;
    size_t size;
    int err = raiiaf_get_manifest_json(self->ctx, &json, &size);
    if (err)
        return CTX_FAIL(self, err);
    return PyUnicode_DecodeUTF8(json, (Py_ssize_t)size, "strict");
}

static PyObject *Reader_env_json(Reader *self, PyObject *unused)
{
    const char *json;
    size_t size;
    int err = raiiaf_get_env_json(self->ctx, &json, &size);
    if (err)
        return CTX_FAIL(self, err);
    if (!json)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(json, (Py_ssize_t)size, "strict");
}

static PyObject *Reader_texts(Reader *self, PyObject *unused)
{
    size_t n;
    int err = raiiaf_get_text_count(self->ctx, &n);
    if (err)
        return CTX_FAIL(self, err);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < n; i++) {
        const char *k, *v;
        err = raiiaf_get_text(self->ctx, i, &k, &v);
        if (err) {
            Py_DECREF(list);
            return CTX_FAIL(self, err);
        }
        PyObject *t = Py_BuildValue("(ss)", k, v);
        if (!t || PyList_Append(list, t) < 0)
            Py_CLEAR(list);
        Py_XDECREF(t);
    }
    return list;
}

static PyObject *Reader_parameters(Reader *self, PyObject *unused)
{
    const char *text;
    int err = raiiaf_get_parameters_text(self->ctx, &text);
    if (err)
        return CTX_FAIL(self, err);
    return PyUnicode_FromString(text);
}

static PyObject *Reader_verify(Reader *self, PyObject *unused)
{
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_verify(self->ctx);
    Py_END_ALLOW_THREADS
    if (err)
        return CTX_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Reader_latent_count(Reader *self, PyObject *unused)
{
    size_t n;
    int err = raiiaf_get_latent_count(self->ctx, &n);
    if (err)
        return CTX_FAIL(self, err);
    return PyLong_FromSize_t(n);
}

static PyObject *shape_tuple(const raiiaf_latent_info *li)
{
    PyObject *shape = PyTuple_New(li->ndim);
    for (unsigned d = 0; shape && d < li->ndim; d++)
        PyTuple_SET_ITEM(shape, d, PyLong_FromUnsignedLongLong(li->shape[d]));
    return shape;
}

/* latent_info(i) -> dict(key, dtype, shape, storage, decoded_size, stored_size) */
static PyObject *Reader_latent_info(Reader *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    raiiaf_latent_info li;
    int err = raiiaf_get_latent_info(self->ctx, (size_t)i, &li);
    if (err)
        return CTX_FAIL(self, err);
    const char *dtype = raiiaf_dtype_name(li.dtype);
    return Py_BuildValue("{s:s,s:s,s:N,s:s,s:K,s:K}", "key", li.key, "dtype",
                         dtype ? dtype : "unknown", "shape", shape_tuple(&li), "storage",
                         li.storage == RAIIAF_STORAGE_ZFP ? "zfp" : "raw", "decoded_size",
                         (unsigned long long)li.decoded_size, "stored_size",
                         (unsigned long long)li.stored_size);
}

/* NumPy's dtype of a library dtype, in host byte order (the library decodes
 * in host order; its npy descr names the little-endian file layout). */
static PyArray_Descr *numpy_dtype(int dtype)
{
    const char *descr = raiiaf_dtype_npy_descr(dtype);
    if (!descr) {
        raise_error(RAIIAF_EUNSUPPORTED, "latent of an unknown dtype");
        return NULL;
    }
    PyObject *s = PyUnicode_FromFormat("=%s", descr + 1);
    if (!s)
        return NULL;
    PyArray_Descr *d = NULL;
    int ok = PyArray_DescrConverter(s, &d);
    Py_DECREF(s);
    return ok ? d : NULL;
}

/* decode_latent(i) -> ndarray in the stored dtype and shape */
static PyObject *Reader_decode_latent(Reader *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    raiiaf_latent_info li;
    int err = raiiaf_get_latent_info(self->ctx, (size_t)i, &li);
    if (err)
        return CTX_FAIL(self, err);
    PyArray_Descr *d = numpy_dtype(li.dtype);
    if (!d)
        return NULL;
    npy_intp dims[RAIIAF_MAX_DIMS];
    for (unsigned k = 0; k < li.ndim; k++)
        dims[k] = (npy_intp)li.shape[k];
    PyArrayObject *arr = (PyArrayObject *)PyArray_NewFromDescr(&PyArray_Type, d, (int)li.ndim,
                                                               dims, NULL, NULL, 0, NULL);
    if (!arr)
        return NULL;
    void *out = PyArray_DATA(arr);
    size_t size = (size_t)PyArray_NBYTES(arr);
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_decode_latent(self->ctx, (size_t)i, out, size);
    Py_END_ALLOW_THREADS
    if (err) {
        Py_DECREF(arr);
        return CTX_FAIL(self, err);
    }
    return (PyObject *)arr;
}

/* latent_stored(i) -> bytes: the still-encoded latent for Writer.add_latent_stored */
static PyObject *Reader_latent_stored(Reader *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    void *blob;
    size_t size;
    int err;
    Py_BEGIN_ALLOW_THREADS /* the latent is decoded and checked first */
    err = raiiaf_get_latent_stored(self->ctx, (size_t)i, &blob, &size);
    Py_END_ALLOW_THREADS
    if (err)
        return CTX_FAIL(self, err);
    PyObject *r = PyBytes_FromStringAndSize(blob, (Py_ssize_t)size);
    raiiaf_free(blob);
    return r;
}

static PyObject *Reader_image_info(Reader *self, PyObject *unused)
{
    raiiaf_image_info ii;
    int err;
    Py_BEGIN_ALLOW_THREADS /* the first image call reads and checks the image chunk */
    err = raiiaf_get_image_info(self->ctx, &ii);
    Py_END_ALLOW_THREADS
    if (err)
        return CTX_FAIL(self, err);
    return Py_BuildValue("{s:k,s:k,s:i,s:i,s:i,s:O,s:O,s:i,s:d,s:K,s:k,s:k}", "width",
                         (unsigned long)ii.width, "height", (unsigned long)ii.height, "format",
                         ii.format, "bit_depth", ii.png_bit_depth, "color_type",
                         ii.png_color_type, "interlaced", ii.interlaced ? Py_True : Py_False,
                         "has_icc", ii.has_icc ? Py_True : Py_False, "srgb_intent",
                         ii.srgb_intent, "gamma", ii.gamma, "image_size",
                         (unsigned long long)ii.image_size, "ppm_x", (unsigned long)ii.ppm_x,
                         "ppm_y", (unsigned long)ii.ppm_y);
}

static PyObject *Reader_png_colour(Reader *self, PyObject *unused)
{
    raiiaf_png_colour c;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_get_png_colour(self->ctx, &c);
    Py_END_ALLOW_THREADS
    if (err)
        return CTX_FAIL(self, err);
    PyObject *trns = Py_None, *chrm = Py_None, *bkgd = Py_None;
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);
    if (c.has_trns_value) {
        Py_DECREF(trns);
        trns = Py_BuildValue("(iiii)", c.trns_gray, c.trns_red, c.trns_green, c.trns_blue);
    }
    if (c.has_chromaticities) {
        Py_DECREF(chrm);
        chrm = Py_BuildValue("(dddddddd)", c.white_x, c.white_y, c.red_x, c.red_y, c.green_x,
                             c.green_y, c.blue_x, c.blue_y);
    }
    if (c.has_background) {
        Py_DECREF(bkgd);
        bkgd = Py_BuildValue("(iiiii)", c.background_gray, c.background_red,
                             c.background_green, c.background_blue, c.background_index);
    }
    return Py_BuildValue("{s:y#,s:y#,s:N,s:O,s:N,s:i,s:N}", "palette", (const char *)c.palette,
                         (Py_ssize_t)(3 * c.palette_count), "palette_alpha",
                         (const char *)c.palette_alpha, (Py_ssize_t)c.palette_alpha_count,
                         "trns", trns, "gamma",
                         c.has_gamma ? PyFloat_FromDouble(c.gamma) : (Py_INCREF(Py_None), Py_None),
                         "chromaticities", chrm, "srgb_intent", c.srgb_intent, "background",
                         bkgd);
}

static PyObject *Reader_image_data(Reader *self, PyObject *unused)
{
    const void *data;
    size_t size;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_get_image_data(self->ctx, &data, &size);
    Py_END_ALLOW_THREADS
    if (err)
        return CTX_FAIL(self, err);
    return PyBytes_FromStringAndSize(data, (Py_ssize_t)size);
}

static PyObject *Reader_icc_profile(Reader *self, PyObject *unused)
{
    const void *data;
    size_t size;
    const char *name;
    int err = raiiaf_get_icc_profile(self->ctx, &data, &size, &name);
    if (err)
        return CTX_FAIL(self, err);
    if (!data)
        Py_RETURN_NONE;
    return Py_BuildValue("(y#s)", (const char *)data, (Py_ssize_t)size, name ? name : "");
}

/* png_metadata() -> dict(texts=[(keyword, text, compressed, international,
 * language, translated_keyword)], xmp=str|None, exif=bytes|None) */
static PyObject *Reader_png_metadata(Reader *self, PyObject *unused)
{
    raiiaf_png_metadata *m;
    int err = raiiaf_get_png_metadata(self->ctx, &m);
    if (err)
        return CTX_FAIL(self, err);
    PyObject *texts = PyList_New(0);
    for (size_t i = 0; texts && i < m->text_count; i++) {
        const raiiaf_png_text *t = &m->texts[i];
        PyObject *o = Py_BuildValue("(ss#OOss)", t->keyword, t->text, (Py_ssize_t)t->size,
                                    t->compressed ? Py_True : Py_False,
                                    t->international ? Py_True : Py_False, t->language,
                                    t->translated_keyword);
        if (!o || PyList_Append(texts, o) < 0)
            Py_CLEAR(texts);
        Py_XDECREF(o);
    }
    PyObject *r = NULL;
    if (texts) {
        PyObject *xmp = m->xmp ? PyUnicode_DecodeUTF8(m->xmp, (Py_ssize_t)m->xmp_size, "replace")
                               : (Py_INCREF(Py_None), Py_None);
        PyObject *exif = m->exif ? PyBytes_FromStringAndSize(m->exif, (Py_ssize_t)m->exif_size)
                                 : (Py_INCREF(Py_None), Py_None);
        if (xmp && exif)
            r = Py_BuildValue("{s:O,s:O,s:O}", "texts", texts, "xmp", xmp, "exif", exif);
        Py_XDECREF(xmp);
        Py_XDECREF(exif);
        Py_DECREF(texts);
    }
    raiiaf_free(m);
    return r;
}

/* decode_image(format) -> bytes of packed rows in `format` (decoded
 * straight into the new object: no copy) */
static PyObject *Reader_decode_image(Reader *self, PyObject *arg)
{
    int format = (int)PyLong_AsLong(arg);
    if (format == -1 && PyErr_Occurred())
        return NULL;
    size_t size;
    int err = raiiaf_decoded_image_size(self->ctx, format, &size);
    if (err)
        return CTX_FAIL(self, err);
    PyObject *buf = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!buf)
        return NULL;
    char *out = PyBytes_AS_STRING(buf);
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_decode_image(self->ctx, format, out, size);
    Py_END_ALLOW_THREADS
    if (err) {
        Py_DECREF(buf);
        return CTX_FAIL(self, err);
    }
    return buf;
}

/* decode_strips(format, strip_bytes, consumer): the pixels in `format`,
 * top to bottom, handed to consumer(bytes) a strip of whole rows (about
 * strip_bytes) at a time, each decoded straight into its bytes object
 * without the GIL; an interlaced (Adam7) PNG comes whole, in one call.
 * The reader stays locked from the first row to the last, so images of
 * one file loaded in several threads each get their own rows. Pillow's
 * plugin copies each strip into its image while it is in the cache: no
 * second copy of the whole picture. */
static PyObject *Reader_decode_strips(Reader *self, PyObject *args)
{
    int format;
    Py_ssize_t strip_bytes;
    PyObject *consumer;
    if (!PyArg_ParseTuple(args, "inO", &format, &strip_bytes, &consumer))
        return NULL;
    raiiaf_image_info ii;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_get_image_info(self->ctx, &ii);
    if (!err && !ii.interlaced)
        err = raiiaf_decode_rows_begin(self->ctx, format);
    Py_END_ALLOW_THREADS
    if (err)
        return CTX_FAIL(self, err);
    if (ii.interlaced) {
        PyObject *whole = Reader_decode_image(self, PyTuple_GET_ITEM(args, 0));
        PyObject *r = whole ? PyObject_CallFunctionObjArgs(consumer, whole, NULL) : NULL;
        Py_XDECREF(whole);
        if (!r)
            return NULL;
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    size_t row = (size_t)ii.width * raiiaf_format_pixel_size(format);
    size_t step = strip_bytes > 0 && (size_t)strip_bytes > row ? (size_t)strip_bytes / row : 1;
    if (step > (size_t)PY_SSIZE_T_MAX / row)
        step = (size_t)PY_SSIZE_T_MAX / row;
    for (uint32_t y = 0; y < ii.height;) {
        size_t n = ii.height - y < step ? ii.height - y : step;
        PyObject *strip = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * row));
        if (!strip)
            return NULL;
        char *out = PyBytes_AS_STRING(strip);
        Py_BEGIN_ALLOW_THREADS
        for (size_t i = 0; i < n && !err; i++)
            err = raiiaf_decode_row(self->ctx, out + i * row, row);
        Py_END_ALLOW_THREADS
        if (err) {
            Py_DECREF(strip);
            return CTX_FAIL(self, err);
        }
        PyObject *r = PyObject_CallFunctionObjArgs(consumer, strip, NULL);
        Py_DECREF(strip);
        if (!r)
            return NULL;
        Py_DECREF(r);
        y += (uint32_t)n;
    }
    Py_RETURN_NONE;
}

LOCKED(Reader, Reader_header)
LOCKED(Reader, Reader_manifest_json)
LOCKED(Reader, Reader_env_json)
LOCKED(Reader, Reader_texts)
LOCKED(Reader, Reader_parameters)
LOCKED(Reader, Reader_verify)
LOCKED(Reader, Reader_latent_count)
LOCKED(Reader, Reader_latent_info)
LOCKED(Reader, Reader_decode_latent)
LOCKED(Reader, Reader_decode_strips)
LOCKED(Reader, Reader_latent_stored)
LOCKED(Reader, Reader_image_info)
LOCKED(Reader, Reader_png_colour)
LOCKED(Reader, Reader_image_data)
LOCKED(Reader, Reader_icc_profile)
LOCKED(Reader, Reader_png_metadata)
LOCKED(Reader, Reader_decode_image)

static PyMethodDef Reader_methods[] = {
    {"header", (PyCFunction)Reader_header_locked, METH_NOARGS, "The file header's fields."},
    {"manifest_json", (PyCFunction)Reader_manifest_json_locked, METH_NOARGS, "The manifest as stored."},
    {"env_json", (PyCFunction)Reader_env_json_locked, METH_NOARGS, "The environment as stored, or None."},
    {"texts", (PyCFunction)Reader_texts_locked, METH_NOARGS, "[(key, value)] as raiiaf_get_text."},
    {"parameters", (PyCFunction)Reader_parameters_locked, METH_NOARGS, "The A1111 parameters text."},
    {"verify", (PyCFunction)Reader_verify_locked, METH_NOARGS, "Checks every payload and pixel."},
    {"latent_count", (PyCFunction)Reader_latent_count_locked, METH_NOARGS, "Number of latents."},
    {"latent_info", (PyCFunction)Reader_latent_info_locked, METH_O, "Key, dtype, shape, storage."},
    {"decode_latent", (PyCFunction)Reader_decode_latent_locked, METH_O, "The latent as an ndarray."},
    {"decode_strips", (PyCFunction)Reader_decode_strips_locked, METH_VARARGS,
     "decode_strips(format, strip_bytes, consumer): consumer(bytes) per strip of rows."},
    {"latent_stored", (PyCFunction)Reader_latent_stored_locked, METH_O, "The latent, still encoded."},
    {"image_info", (PyCFunction)Reader_image_info_locked, METH_NOARGS, "The embedded PNG's IHDR and more."},
    {"png_colour", (PyCFunction)Reader_png_colour_locked, METH_NOARGS, "PLTE, tRNS, gAMA, cHRM, sRGB."},
    {"image_data", (PyCFunction)Reader_image_data_locked, METH_NOARGS, "The embedded PNG's bytes."},
    {"icc_profile", (PyCFunction)Reader_icc_profile_locked, METH_NOARGS, "(profile, name) or None."},
    {"png_metadata", (PyCFunction)Reader_png_metadata_locked, METH_NOARGS, "Text, XMP, Exif chunks."},
    {"decode_image", (PyCFunction)Reader_decode_image_locked, METH_O, "Pixels in a FMT_* format."},
    {NULL, NULL, 0, NULL}};

WITH_LOCK(Reader)

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pyraiiaf._raiiaf.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(source, max_pixels=0): one opened .raiiaf file (raiiaf_ctx).",
    .tp_methods = Reader_methods,
    .tp_init = (initproc)Reader_init_locked,
    .tp_new = Reader_new,
};

/* ------------------------------------------------------------------ Writer */

typedef struct {
    PyObject_HEAD
    raiiaf_writer *w;
    PyThread_type_lock lock;
    unsigned long owner;
} Writer;

#define W_FAIL(self, err) raise_error((err), raiiaf_writer_message((self)->w))

static void Writer_dealloc(Writer *self)
{
    raiiaf_writer_free(self->w);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Writer(source=None): a new file, or one re-writing an opened Reader
 * (its manifest fields, environment and latents copied). */
static int Writer_init(Writer *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"source", NULL};
    PyObject *source = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &source))
        return -1;
    if (self->w) {
        PyErr_SetString(PyExc_RuntimeError, "Writer already initialised");
        return -1;
    }
    if (source == Py_None) {
        self->w = raiiaf_writer_new();
        if (!self->w) {
            PyErr_NoMemory();
            return -1;
        }
        return 0;
    }
    if (!PyObject_TypeCheck(source, &ReaderType)) {
        PyErr_SetString(PyExc_TypeError, "source must be a Reader");
        return -1;
    }
    Reader *r = (Reader *)source;
    if (object_lock(r->lock, &r->owner) < 0)
        return -1;
    int err = raiiaf_writer_new_from(r->ctx, &self->w);
    if (err)
        CTX_FAIL(r, err);
    object_unlock(r->lock, &r->owner);
    return err ? -1 : 0;
}

static PyObject *Writer_set_image_png(Writer *self, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    int err = raiiaf_writer_set_image_png(self->w, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

/* add_latent(key, array, storage): array is C-contiguous float32 or
 * float16 (the caller converts; the dtype is named by the array). */
static PyObject *Writer_add_latent(Writer *self, PyObject *args)
{
    const char *key;
    PyObject *obj;
    int storage;
    if (!PyArg_ParseTuple(args, "sOi", &key, &obj, &storage))
        return NULL;
    PyArrayObject *arr = (PyArrayObject *)PyArray_FROMANY(obj, NPY_NOTYPE, 0, 0,
                                                          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED);
    if (!arr)
        return NULL;
    /* The library's dtype of the same size, for a floating-point array. */
    int dtype = -1;
    for (int d = 0; PyArray_DESCR(arr)->kind == 'f' && raiiaf_dtype_name(d); d++)
        if (raiiaf_dtype_size(d) == (size_t)PyArray_ITEMSIZE(arr))
            dtype = d;
    if (dtype < 0) {
        Py_DECREF(arr);
        return raise_error(RAIIAF_EVALUE, "a latent must be a float32 or float16 array");
    }
    int nd = PyArray_NDIM(arr);
    uint64_t shape[RAIIAF_MAX_DIMS];
    if (nd > RAIIAF_MAX_DIMS) {
        Py_DECREF(arr);
        return raise_error(RAIIAF_EVALUE, "a latent has too many dimensions");
    }
    for (int k = 0; k < nd; k++)
        shape[k] = (uint64_t)PyArray_DIM(arr, k);
    int err;
    const void *data = PyArray_DATA(arr);
    size_t size = (size_t)PyArray_NBYTES(arr);
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_writer_add_latent(self->w, key, dtype, shape, (unsigned)nd, data, size, storage);
    Py_END_ALLOW_THREADS
    Py_DECREF(arr);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_add_latent_stored(Writer *self, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    int err = raiiaf_writer_add_latent_stored(self->w, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_clear_latents(Writer *self, PyObject *unused)
{
    int err = raiiaf_writer_clear_latents(self->w);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_set_latent_storage(Writer *self, PyObject *arg)
{
    int storage = (int)PyLong_AsLong(arg);
    if (storage == -1 && PyErr_Occurred())
        return NULL;
    int err = raiiaf_writer_set_latent_storage(self->w, storage);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

typedef int (*json_setter)(raiiaf_writer *, const char *, size_t);

static PyObject *set_json(Writer *self, PyObject *arg, json_setter fn)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!s)
        return NULL;
    int err = fn(self->w, s, (size_t)n);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_set_metadata_json(Writer *self, PyObject *arg)
{
    return set_json(self, arg, raiiaf_writer_set_metadata_json);
}

static PyObject *Writer_set_env_json(Writer *self, PyObject *arg)
{
    return set_json(self, arg, raiiaf_writer_set_env_json);
}

static PyObject *Writer_set_text(Writer *self, PyObject *args)
{
    const char *key, *value;
    if (!PyArg_ParseTuple(args, "sz", &key, &value))
        return NULL;
    int err = raiiaf_writer_set_text(self->w, key, value);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_set_extra_json(Writer *self, PyObject *args)
{
    const char *key, *json;
    if (!PyArg_ParseTuple(args, "ss", &key, &json))
        return NULL;
    int err = raiiaf_writer_set_extra_json(self->w, key, json);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_set_software(Writer *self, PyObject *args)
{
    const char *name, *version, *action;
    if (!PyArg_ParseTuple(args, "ssz", &name, &version, &action))
        return NULL;
    int err = raiiaf_writer_set_software(self->w, name, version, action);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_write_file(Writer *self, PyObject *arg)
{
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(arg, &path))
        return NULL;
    int err;
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_writer_write_file(self->w, p);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (err)
        return W_FAIL(self, err);
    Py_RETURN_NONE;
}

static PyObject *Writer_write_memory(Writer *self, PyObject *unused)
{
    void *data;
    size_t size;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_writer_write_memory(self->w, &data, &size);
    Py_END_ALLOW_THREADS
    if (err)
        return W_FAIL(self, err);
    PyObject *r = PyBytes_FromStringAndSize(data, (Py_ssize_t)size);
    raiiaf_free(data);
    return r;
}

LOCKED(Writer, Writer_set_image_png)
LOCKED(Writer, Writer_add_latent)
LOCKED(Writer, Writer_add_latent_stored)
LOCKED(Writer, Writer_clear_latents)
LOCKED(Writer, Writer_set_latent_storage)
LOCKED(Writer, Writer_set_metadata_json)
LOCKED(Writer, Writer_set_env_json)
LOCKED(Writer, Writer_set_text)
LOCKED(Writer, Writer_set_extra_json)
LOCKED(Writer, Writer_set_software)
LOCKED(Writer, Writer_write_file)
LOCKED(Writer, Writer_write_memory)

static PyMethodDef Writer_methods[] = {
    {"set_image_png", (PyCFunction)Writer_set_image_png_locked, METH_O, "The image as PNG bytes."},
    {"add_latent", (PyCFunction)Writer_add_latent_locked, METH_VARARGS, "add_latent(key, array, storage)"},
    {"add_latent_stored", (PyCFunction)Writer_add_latent_stored_locked, METH_O, "A Reader.latent_stored blob."},
    {"clear_latents", (PyCFunction)Writer_clear_latents_locked, METH_NOARGS, "Removes every latent."},
    {"set_latent_storage", (PyCFunction)Writer_set_latent_storage_locked, METH_O, "Re-encode all latents."},
    {"set_metadata_json", (PyCFunction)Writer_set_metadata_json_locked, METH_O, "Manifest or model_info JSON."},
    {"set_env_json", (PyCFunction)Writer_set_env_json_locked, METH_O, "The environment JSON."},
    {"set_text", (PyCFunction)Writer_set_text_locked, METH_VARARGS, "set_text(key, value or None)"},
    {"set_extra_json", (PyCFunction)Writer_set_extra_json_locked, METH_VARARGS, "set_extra_json(key, json)"},
    {"set_software", (PyCFunction)Writer_set_software_locked, METH_VARARGS, "set_software(name, version, action)"},
    {"write_file", (PyCFunction)Writer_write_file_locked, METH_O, "Writes the file all or nothing."},
    {"write_memory", (PyCFunction)Writer_write_memory_locked, METH_NOARGS, "The file as bytes."},
    {NULL, NULL, 0, NULL}};

WITH_LOCK(Writer)

static PyTypeObject WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pyraiiaf._raiiaf.Writer",
    .tp_basicsize = sizeof(Writer),
    .tp_dealloc = (destructor)Writer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Writer(source=None): builds one .raiiaf file (raiiaf_writer).",
    .tp_methods = Writer_methods,
    .tp_init = (initproc)Writer_init_locked,
    .tp_new = Writer_new,
};

/* ---------------------------------------------------------- encode_png */

/* Keeps Python buffers alive while the library reads them. */
struct bufs {
    Py_buffer b[6];
    int n;
};

static int get_buf(struct bufs *bs, PyObject *o, const void **data, size_t *size)
{
    if (o == NULL || o == Py_None) {
        *data = NULL;
        *size = 0;
        return 0;
    }
    Py_buffer *b = &bs->b[bs->n];
    if (PyObject_GetBuffer(o, b, PyBUF_SIMPLE) < 0)
        return -1;
    bs->n++;
    *data = b->buf;
    *size = (size_t)b->len;
    return 0;
}

/* encode_png(width, height, format, data, level=-1, icc=None, icc_name=None,
 *            palette=None, palette_alpha=None, gamma=0.0, srgb_intent=-1,
 *            ppm=(0, 0), texts=(), xmp=None, exif=None) -> PNG bytes
 * texts: (keyword, text, compressed, international) tuples, written in
 * order. The library's raiiaf_encode_png does the encoding. */
static PyObject *encode_png(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"width", "height", "format", "data", "level", "icc", "icc_name",
                             "palette", "palette_alpha", "gamma", "srgb_intent", "ppm", "texts",
                             "xmp", "exif", NULL};
    unsigned int width, height;
    int format, level = -1, srgb_intent = -1;
    PyObject *data_o, *icc_o = Py_None, *pal_o = Py_None, *pal_a_o = Py_None, *texts_o = NULL,
                      *xmp_o = Py_None, *exif_o = Py_None;
    const char *icc_name = NULL;
    double gamma = 0;
    unsigned int ppm_x = 0, ppm_y = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "IIiO|iOzOOdi(II)OOO", kwlist, &width, &height,
                                     &format, &data_o, &level, &icc_o, &icc_name, &pal_o,
                                     &pal_a_o, &gamma, &srgb_intent, &ppm_x, &ppm_y, &texts_o,
                                     &xmp_o, &exif_o))
        return NULL;
    struct bufs bs = {.n = 0};
    raiiaf_pixels px;
    memset(&px, 0, sizeof px);
    px.width = width;
    px.height = height;
    px.format = format;
    px.icc_name = icc_name;
    px.gamma = gamma;
    px.has_srgb = srgb_intent >= 0;
    px.srgb_intent = srgb_intent >= 0 ? srgb_intent : 0;
    px.ppm_x = ppm_x;
    px.ppm_y = ppm_y;
    raiiaf_png_metadata meta;
    memset(&meta, 0, sizeof meta);
    raiiaf_png_text *texts = NULL;
    PyObject *seq = NULL, *result = NULL;
    const void *p;
    size_t n, data_size;
    if (get_buf(&bs, data_o, &px.data, &data_size) < 0 || get_buf(&bs, icc_o, &px.icc, &px.icc_size) < 0)
        goto out;
    if (get_buf(&bs, pal_o, &p, &n) < 0)
        goto out;
    px.palette = p;
    px.palette_count = (unsigned)(n / 3);
    if (get_buf(&bs, pal_a_o, &p, &n) < 0)
        goto out;
    px.palette_alpha = p;
    px.palette_alpha_count = (unsigned)n;
    size_t need = (size_t)width * height * raiiaf_format_pixel_size(format);
    if (data_size < need) {
        raise_error(RAIIAF_ERANGE, "pixel data smaller than width x height");
        goto out;
    }
    if (get_buf(&bs, xmp_o, &p, &n) < 0)
        goto out;
    meta.xmp = p;
    meta.xmp_size = n;
    if (get_buf(&bs, exif_o, &meta.exif, &meta.exif_size) < 0)
        goto out;
    if (texts_o && texts_o != Py_None) {
        seq = PySequence_Fast(texts_o, "texts must be a sequence");
        if (!seq)
            goto out;
        Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
        texts = PyMem_Calloc((size_t)count + 1, sizeof *texts);
        if (!texts) {
            PyErr_NoMemory();
            goto out;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            int compressed, international;
            Py_ssize_t size;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ss#pp", &texts[i].keyword,
                                  &texts[i].text, &size, &compressed, &international))
                goto out;
            texts[i].size = (size_t)size;
            texts[i].compressed = compressed;
            texts[i].international = international;
            texts[i].language = "";
            texts[i].translated_keyword = "";
        }
        meta.texts = texts;
        meta.text_count = (size_t)count;
    }
    void *png;
    size_t png_size;
    char message[512] = "";
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = raiiaf_encode_png(&px, level, &meta, &png, &png_size, message, sizeof message);
    Py_END_ALLOW_THREADS
    if (err) {
        raise_error(err, message);
        goto out;
    }
    result = PyBytes_FromStringAndSize(png, (Py_ssize_t)png_size);
    raiiaf_free(png);
out:
    PyMem_Free(texts);
    Py_XDECREF(seq);
    while (bs.n > 0)
        PyBuffer_Release(&bs.b[--bs.n]);
    return result;
}

static PyObject *check_signature(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    int r = raiiaf_check_signature(b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyBool_FromLong(r);
}

static PyObject *format_pixel_size(PyObject *mod, PyObject *arg)
{
    long f = PyLong_AsLong(arg);
    if (f == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromSize_t(raiiaf_format_pixel_size((int)f));
}

static PyMethodDef module_methods[] = {
    {"encode_png", (PyCFunction)(void (*)(void))encode_png, METH_VARARGS | METH_KEYWORDS,
     "Pixels (and PNG metadata) to PNG bytes through the library."},
    {"check_signature", check_signature, METH_O, "True when the bytes start like a .raiiaf."},
    {"format_pixel_size", format_pixel_size, METH_O, "Bytes per pixel of a FMT_* format."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_raiiaf",
                                       "The binding of libraiiaf.", -1, module_methods};

PyMODINIT_FUNC PyInit__raiiaf(void)
{
    import_array();
    if (PyType_Ready(&ReaderType) < 0 || PyType_Ready(&WriterType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m)
        return NULL;
    Error = PyErr_NewExceptionWithDoc("pyraiiaf.Error",
                                      "A .raiiaf file could not be read or written: the "
                                      "library's message, and its error code in .code.",
                                      PyExc_OSError, NULL);
    if (!Error)
        return NULL;
    Py_INCREF(&ReaderType);
    Py_INCREF(&WriterType);
    PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType);
    PyModule_AddObject(m, "Writer", (PyObject *)&WriterType);
    PyModule_AddObject(m, "Error", Error);
    PyModule_AddStringConstant(m, "library_version", raiiaf_version_string());
    PyModule_AddStringConstant(m, "dependency_versions", raiiaf_dependency_versions());
#define C(n) PyModule_AddIntConstant(m, #n, RAIIAF_##n)
    C(FMT_G8); C(FMT_GA8); C(FMT_RGB8); C(FMT_RGBA8); C(FMT_G16); C(FMT_GA16);
    C(FMT_RGB16); C(FMT_RGBA16); C(FMT_INDEX8);
    C(STORAGE_AUTO); C(STORAGE_RAW); C(STORAGE_ZFP);
    C(FLOAT32); C(FLOAT16);
#undef C
    return m;
}
