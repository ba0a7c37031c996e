/*
 * tiercache._fastpath: the per-key hot path of TierCache (get, set, delete, contains and the
 * one-step operations) as plain CPython functions.
 *
 * Why not cffi here: a cffi call costs about 120 ns plus 25 ns per argument on the reference
 * machine, so a 7-argument tc_cache_get took ~300 ns before any work (the C work is ~26 ns),
 * three times a cachetools get. These functions cost one METH_FASTCALL call.
 *
 * They do not link libtiercache: bind() receives the addresses of the tc_cache_* functions
 * from the cffi module (tiercache._bindings), so there is one copy of the library and its
 * allocator in the process. Keys are encoded here by the one key encoder
 * (_fastpath_key.h, which tiercache/serde.py calls too). Values of type bytes, str and
 * bytearray are encoded here as tiercache/serde.py's Serializer.dumps does; a write of any
 * other value returns NotImplemented and Python encodes it and calls again with the tag.
 *
 * The cache: a CacheHandle, made only by cache_create() here from a successful
 * tc_cache_create (it cannot be made from an integer), which owns the tc_cache_t until
 * destroy(). A destroyed handle raises the error for TC_ERR_CLOSED (CacheClosedError).
 *
 * What the calls return (the few result shapes, in one place):
 *   reads   get, get_many, get_ex, contains, delete, delete_many: the answer itself (the
 *           value or the caller's default; a dict; None or a tuple; a bool; a count). A
 *           native error raises the exception that bind()'s error factory makes.
 *   writes  set, set_many, store, incr: the native return code (0 or a TC_CACHE_* result, or
 *           a negative TC_ERR_* code the caller turns into an exception with its own context:
 *           the sizes, pinned views, a full filesystem), or NotImplemented when Python must
 *           encode the value first. incr gives (code, number).
 * Exceptions of the arguments (a key that is no key: TypeError) raise in every call.
 *
 * Small operations keep the GIL (the native work is tens of nanoseconds under the cache's
 * own mutex, which no GIL holder is ever waited on by); copies of 256 KiB or more release it.
 */
#include <string.h>

#include "_fastpath_key.h"
#include "tiercache/cache.h"

extern PyTypeObject tc_py_region_type; /* _fastpath_region.c */

typedef int (*create_fn)(const tc_cache_config_t *, tc_cache_t **);
typedef int (*destroy_fn)(tc_cache_t *);
typedef int (*get_fn)(tc_cache_t *, unsigned, const void *, size_t, void *, size_t,
                      tc_cache_value_t *);
typedef int (*set_fn)(tc_cache_t *, unsigned, const void *, size_t, const void *, size_t, unsigned,
                      double);
typedef int (*key_fn)(tc_cache_t *, unsigned, const void *, size_t);
typedef void (*unpin_fn)(tc_cache_t *, void *);
typedef int (*store_fn)(tc_cache_t *, tc_cache_mode_t, const tc_cache_item_t *, uint64_t *);
typedef int (*get_ex_fn)(tc_cache_t *, unsigned, const void *, size_t, unsigned, double, void *,
                         size_t, tc_cache_value_t *);
typedef int (*incr_fn)(tc_cache_t *, unsigned, const void *, size_t, const tc_cache_incr_t *,
                       uint64_t *, uint64_t *);

static create_fn cache_create;
static destroy_fn cache_destroy;
static get_fn cache_get;
static set_fn cache_set;
static key_fn cache_delete, cache_contains;
static unpin_fn cache_unpin;
static store_fn cache_store;
static get_ex_fn cache_get_ex;
static incr_fn cache_incr;
static PyObject *error_factory; /* error(code, context) -> the exception to raise */
static PyObject *absent;        /* get_many's marker of a key not found */

/* Must match tiercache/serde.py's VALUE_* tags. */
enum { VALUE_BYTES = 0, VALUE_BYTEARRAY = 1, VALUE_STR = 2 };
#define COPY_CAP (16 * 1024)        /* values up to this size are copied via the stack */
#define RELEASE_GIL_AT (256 * 1024) /* copies this large run without the GIL */

/* Raise the exception bind()'s error factory makes for a TC_ERR_* code; returns NULL. */
static PyObject *raise_code(int rc, const char *context) {
    PyObject *exc = PyObject_CallFunction(error_factory, "is", rc, context);
    if (!exc) return NULL;
    if (PyExceptionInstance_Check(exc)) PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    else PyErr_Format(PyExc_SystemError, "the error factory gave no exception for %d", rc);
    Py_DECREF(exc);
    return NULL;
}

/* ---- the cache handle ---- */

typedef struct {
    PyObject_HEAD tc_cache_t *cache; /* NULL once destroyed */
} CacheHandle;

static void handle_destroy_now(CacheHandle *h) {
    tc_cache_t *c = h->cache;
    h->cache = NULL;
    if (c) cache_destroy(c);
}

static void handle_dealloc(PyObject *self) {
    /* The owner (tiercache.cache._Native) destroys the cache before its kinds close; this is
     * the fallback for a handle dropped without destroy(). */
    handle_destroy_now((CacheHandle *)self);
    PyObject_Free(self);
}

static PyObject *handle_destroy(PyObject *self, PyObject *unused) {
    handle_destroy_now((CacheHandle *)self);
    Py_RETURN_NONE;
}

static PyObject *handle_get_address(PyObject *self, void *unused) {
    tc_cache_t *c = ((CacheHandle *)self)->cache;
    if (!c) return raise_code(TC_ERR_CLOSED, "the cache was destroyed");
    return PyLong_FromVoidPtr(c);
}

static PyObject *handle_get_destroyed(PyObject *self, void *unused) {
    return PyBool_FromLong(((CacheHandle *)self)->cache == NULL);
}

static PyGetSetDef handle_getset[] = {
    {"address", handle_get_address, NULL, "the tc_cache_t * as an int (for cffi calls)", NULL},
    {"destroyed", handle_get_destroyed, NULL, "True after destroy()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef handle_methods[] = {
    {"destroy", handle_destroy, METH_NOARGS,
     "tc_cache_destroy now (idempotent); the handle then raises CacheClosedError"},
    {NULL, NULL, 0, NULL},
};

/* No tp_new and no subclasses: a handle comes only from cache_create(). */
static PyTypeObject CacheHandleType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tiercache._fastpath.CacheHandle",
    .tp_basicsize = sizeof(CacheHandle),
    .tp_dealloc = handle_dealloc,
    .tp_getset = handle_getset,
    .tp_methods = handle_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A native cache, made by cache_create(); owns it until destroy().",
};

/* The cache of a handle argument, or NULL with TypeError (not a handle) or the closed-cache
 * error (destroyed). */
static inline tc_cache_t *handle_of(PyObject *obj) {
    if (Py_TYPE(obj) == &CacheHandleType) {
        tc_cache_t *c = ((CacheHandle *)obj)->cache;
        if (c) return c;
        raise_code(TC_ERR_CLOSED, "the cache was destroyed");
        return NULL;
    }
    PyErr_Format(PyExc_TypeError, "a CacheHandle is needed, not %.200s", Py_TYPE(obj)->tp_name);
    return NULL;
}

/* cache_create(config) -> CacheHandle: tc_cache_create of a tc_cache_config_t given as a
 * buffer of its exact size (cffi's ffi.buffer of the struct). */
static PyObject *fp_cache_create(PyObject *self, PyObject *arg) {
    if (!cache_create) {
        PyErr_SetString(PyExc_RuntimeError, "tiercache._fastpath.bind() was not called");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    tc_cache_config_t cfg;
    if (view.len != (Py_ssize_t)sizeof cfg) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "a cache config has %zu bytes, not %zd", sizeof cfg,
                     view.len);
        return NULL;
    }
    memcpy(&cfg, view.buf, sizeof cfg);
    PyBuffer_Release(&view);
    CacheHandle *h = PyObject_New(CacheHandle, &CacheHandleType);
    if (!h) return NULL;
    h->cache = NULL;
    int rc = cache_create(&cfg, &h->cache);
    if (rc < 0) {
        h->cache = NULL;
        Py_DECREF(h);
        return raise_code(rc, "cannot create the cache");
    }
    return (PyObject *)h;
}

/* ---- the reader: decodes a cache's values and exports its pinned ones ---- */

/* One per cache (made by reader()). It decodes values of tags other than raw bytes with
 * loads(tag, data), and exports values for get(copy=False): each such get arms it with one
 * pinned value and asks for a memoryview of it at once, so the view's buffer carries the pin
 * (in Py_buffer.internal) and its release unpins. A view costs CPython's two objects (managed
 * buffer and memoryview) and no object of ours. The reader holds the owner (the Python object
 * that keeps the cache and its kinds alive) for as long as any view exists. Asked for a buffer
 * when not armed (memoryview(view.obj)), it refuses. */
typedef struct {
    PyObject_HEAD tc_cache_t *cache;
    PyObject *owner;
    PyObject *loads;
    void *pin; /* armed: the value to export next */
    void *data;
    Py_ssize_t len;
} Reader;

static int reader_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Reader *x = (Reader *)self;
    if (!x->pin) {
        PyErr_SetString(PyExc_BufferError, "a cache value is exported only by get()");
        return -1;
    }
    if (PyBuffer_FillInfo(view, self, x->data, x->len, 1, flags) < 0) return -1;
    view->internal = x->pin;
    x->pin = NULL;
    return 0;
}

static void reader_releasebuffer(PyObject *self, Py_buffer *view) {
    cache_unpin(((Reader *)self)->cache, view->internal);
}

static void reader_dealloc(PyObject *self) {
    Py_XDECREF(((Reader *)self)->owner);
    Py_XDECREF(((Reader *)self)->loads);
    PyObject_Free(self);
}

static PyBufferProcs reader_buffer = {reader_getbuffer, reader_releasebuffer};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tiercache._fastpath.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_dealloc = reader_dealloc,
    .tp_as_buffer = &reader_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Decodes a cache's values and exports its pinned values read-only.",
};

/* reader(handle, owner, loads): the reader that get on this cache needs. */
static PyObject *fp_reader(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "reader(handle, owner, loads)");
        return NULL;
    }
    tc_cache_t *c = handle_of(args[0]);
    if (!c) return NULL;
    if (!PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "reader(): loads must be callable");
        return NULL;
    }
    Reader *x = PyObject_New(Reader, &ReaderType);
    if (!x) return NULL;
    x->cache = c;
    x->owner = Py_NewRef(args[1]);
    x->loads = Py_NewRef(args[2]);
    x->pin = NULL;
    x->data = NULL;
    x->len = 0;
    return (PyObject *)x;
}

static Reader *reader_of(PyObject *x, tc_cache_t *c) {
    if (Py_TYPE(x) == &ReaderType && ((Reader *)x)->cache == c) return (Reader *)x;
    PyErr_SetString(PyExc_TypeError, "get needs this cache's reader()");
    return NULL;
}

/* A read-only memoryview of a pinned value; on failure the pin is released. */
static PyObject *pinned_view(Reader *x, tc_cache_value_t *out) {
    x->pin = out->pin;
    x->data = (void *)out->data;
    x->len = (Py_ssize_t)out->len;
    PyObject *view = PyMemoryView_FromObject((PyObject *)x);
    if (x->pin) { /* the buffer was never taken */
        x->pin = NULL;
        cache_unpin(x->cache, out->pin);
    }
    return view;
}

/* The value of a tag other than raw bytes: loads(tag, data). Steals data. */
static PyObject *decoded(Reader *x, unsigned tag, PyObject *data) {
    if (!data) return NULL;
    PyObject *args[2] = {PyLong_FromUnsignedLong(tag), data};
    PyObject *value = args[0] ? PyObject_Vectorcall(x->loads, args, 2, NULL) : NULL;
    Py_XDECREF(args[0]);
    Py_DECREF(data);
    return value;
}

/* One get of an encoded key: the value, or dflt when absent; NULL with an exception. */
static PyObject *get_encoded(tc_cache_t *c, const struct key *k, int copy, Reader *x,
                             PyObject *dflt) {
    char scratch[COPY_CAP];
    tc_cache_value_t out;
    int rc = cache_get(c, k->tag, k->data, (size_t)k->len, scratch, copy ? COPY_CAP : 0, &out);
    if (rc == 0) return Py_NewRef(dflt);
    if (rc < 0) return raise_code(rc, "get");
    if (out.pin && !copy) {
        PyObject *view = pinned_view(x, &out);
        return !view || out.tag == VALUE_BYTES ? view : decoded(x, out.tag, view);
    }
    PyObject *bytes = PyBytes_FromStringAndSize(out.pin ? NULL : out.data, (Py_ssize_t)out.len);
    if (out.pin) {
        if (bytes) {
            if (out.len >= RELEASE_GIL_AT) {
                Py_BEGIN_ALLOW_THREADS memcpy(PyBytes_AS_STRING(bytes), out.data, out.len);
                Py_END_ALLOW_THREADS
            } else {
                memcpy(PyBytes_AS_STRING(bytes), out.data, out.len);
            }
        }
        cache_unpin(c, out.pin);
    }
    return !bytes || out.tag == VALUE_BYTES ? bytes : decoded(x, out.tag, bytes);
}

static int truth(PyObject *o) { return o == Py_True ? 1 : o == Py_False ? 0 : PyObject_IsTrue(o); }

static int wrong_args(const char *usage) {
    PyErr_SetString(PyExc_TypeError, usage);
    return -1;
}

/* get(handle, key, default, copy, reader) -> the value, or default when absent */
static PyObject *fp_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) return wrong_args("get(handle, key, default, copy, reader)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c) return NULL;
    Reader *x = reader_of(args[4], c);
    int copy = x ? truth(args[3]) : -1;
    struct key k;
    if (copy < 0 || key_encode(args[1], &k) < 0) return NULL;
    PyObject *r = get_encoded(c, &k, copy, x, args[2]);
    key_release(&k);
    return r;
}

/* The bytes of a value and its tag (vtag -1: from its type), or 0 when Python must encode
 * it; -1 with an exception set. A view to release may be left in *view. */
static int value_bytes(PyObject *v, long *vtag, const char **data, Py_ssize_t *len,
                       Py_buffer *view) {
    if (PyBytes_CheckExact(v)) {
        *data = PyBytes_AS_STRING(v);
        *len = PyBytes_GET_SIZE(v);
        if (*vtag < 0) *vtag = VALUE_BYTES;
    } else if (*vtag < 0 && PyUnicode_CheckExact(v)) {
        *data = PyUnicode_AsUTF8AndSize(v, len);
        if (!*data) {
            PyErr_Clear();
            return 0;
        }
        *vtag = VALUE_STR;
    } else if (PyByteArray_CheckExact(v) || *vtag >= 0) {
        if (PyObject_GetBuffer(v, view, PyBUF_SIMPLE) < 0) return -1;
        *data = view->buf;
        *len = view->len;
        if (*vtag < 0) *vtag = VALUE_BYTEARRAY;
    } else {
        return 0;
    }
    return 1;
}

/* One set of an encoded key: the return code, NotImplemented, or NULL with an exception. */
static PyObject *set_encoded(tc_cache_t *c, const struct key *k, PyObject *v, long vtag,
                             double ttl) {
    const char *data;
    Py_ssize_t len;
    Py_buffer view = {0};
    int got = value_bytes(v, &vtag, &data, &len, &view);
    if (got <= 0) return got < 0 ? NULL : Py_NewRef(Py_NotImplemented);
    int rc;
    if (len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS rc =
            cache_set(c, k->tag, k->data, (size_t)k->len, data, (size_t)len, (unsigned)vtag, ttl);
        Py_END_ALLOW_THREADS
    } else {
        rc = cache_set(c, k->tag, k->data, (size_t)k->len, data, (size_t)len, (unsigned)vtag, ttl);
    }
    if (view.obj) PyBuffer_Release(&view);
    return PyLong_FromLong(rc);
}

/* set(handle, key, value, value_tag, ttl) -> the return code, or NotImplemented */
static PyObject *fp_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) return wrong_args("set(handle, key, value, value_tag, ttl)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c) return NULL;
    long vtag = PyLong_AsLong(args[3]);
    double ttl = PyFloat_AsDouble(args[4]);
    struct key k;
    if (PyErr_Occurred() || key_encode(args[1], &k) < 0) return NULL;
    PyObject *r = set_encoded(c, &k, args[2], vtag, ttl);
    key_release(&k);
    return r;
}

/* ---- batches: one call for many keys ---- */

static int list_arg(PyObject *obj) {
    if (PyList_CheckExact(obj)) return 0;
    return wrong_args("a list is needed");
}

/* get_many(handle, keys, copy, reader) -> {key: value} for the keys found */
static PyObject *fp_get_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) return wrong_args("get_many(handle, keys, copy, reader)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c || list_arg(args[1]) < 0) return NULL;
    Reader *x = reader_of(args[3], c);
    int copy = x ? truth(args[2]) : -1;
    if (copy < 0) return NULL;
    PyObject *found = PyDict_New(), *keys = args[1];
    for (Py_ssize_t i = 0; found && i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i), *r = NULL;
        struct key k;
        if (key_encode(key, &k) == 0) {
            r = get_encoded(c, &k, copy, x, absent);
            key_release(&k);
        }
        if (!r || (r != absent && PyDict_SetItem(found, key, r) < 0)) Py_CLEAR(found);
        Py_XDECREF(r);
    }
    return found;
}

/* set_many(handle, pairs, ttl) -> set's result for each (key, value) pair, up to and
 * including the first that is not 0 (an error, or NotImplemented): the pairs after it are
 * left for the caller, so that a batch stops where it fails. */
static PyObject *fp_set_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) return wrong_args("set_many(handle, pairs, ttl)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c || list_arg(args[1]) < 0) return NULL;
    double ttl = PyFloat_AsDouble(args[2]);
    if (PyErr_Occurred()) return NULL;
    PyObject *pairs = args[1], *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(pairs); i++) {
        PyObject *pair = PyList_GET_ITEM(pairs, i), *r = NULL;
        struct key k;
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "set_many needs (key, value) pairs");
        } else if (key_encode(PyTuple_GET_ITEM(pair, 0), &k) == 0) {
            r = set_encoded(c, &k, PyTuple_GET_ITEM(pair, 1), -1, ttl);
            key_release(&k);
        }
        int last = !r || r == Py_NotImplemented || PyLong_AsLong(r) != 0;
        if (!r || PyList_Append(out, r) < 0) Py_CLEAR(out);
        Py_XDECREF(r);
        if (last) break; /* Python takes over here */
    }
    return out;
}

/* delete_many(handle, keys) -> how many of the keys were there (and are now removed) */
static PyObject *fp_delete_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) return wrong_args("delete_many(handle, keys)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c || list_arg(args[1]) < 0) return NULL;
    Py_ssize_t removed = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(args[1]); i++) {
        struct key k;
        if (key_encode(PyList_GET_ITEM(args[1], i), &k) < 0) return NULL;
        int rc = cache_delete(c, k.tag, k.data, (size_t)k.len);
        key_release(&k);
        if (rc < 0) return raise_code(rc, "delete_many");
        removed += rc;
    }
    return PyLong_FromSsize_t(removed);
}

/* ---- one-step operations (tiercache/atomic.py) ---- */

/* store(handle, key, value, value_tag, ttl, mode, cas) -> tc_cache_store's result (a
 * TC_CACHE_* code or a negative TC_ERR_*), or NotImplemented (Python encodes and calls again) */
static PyObject *fp_store(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7)
        return wrong_args("store(handle, key, value, value_tag, ttl, mode, cas)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c) return NULL;
    long vtag = PyLong_AsLong(args[3]);
    double ttl = PyFloat_AsDouble(args[4]);
    long mode = PyLong_AsLong(args[5]);
    unsigned long long cas = PyLong_AsUnsignedLongLong(args[6]);
    if (PyErr_Occurred()) return NULL;
    const char *data;
    Py_ssize_t len;
    Py_buffer view = {0};
    int got = value_bytes(args[2], &vtag, &data, &len, &view);
    if (got <= 0) return got < 0 ? NULL : Py_NewRef(Py_NotImplemented);
    struct key k;
    PyObject *r = NULL;
    if (key_encode(args[1], &k) == 0) {
        tc_cache_item_t item = {.ktag = k.tag,
                                .key = k.data,
                                .klen = (size_t)k.len,
                                .value = data,
                                .vlen = (size_t)len,
                                .vtag = (unsigned)vtag,
                                .ttl = ttl,
                                .cas = cas};
        r = PyLong_FromLong(cache_store(c, (tc_cache_mode_t)mode, &item, NULL));
        key_release(&k);
    }
    if (view.obj) PyBuffer_Release(&view);
    return r;
}

/* get_ex(handle, key, options) -> None (absent) or (tag, bytes, cas, seconds left or 0.0) */
static PyObject *fp_get_ex(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) return wrong_args("get_ex(handle, key, options)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c) return NULL;
    unsigned long options = PyLong_AsUnsignedLong(args[2]);
    struct key k;
    if (PyErr_Occurred() || key_encode(args[1], &k) < 0) return NULL;
    char scratch[COPY_CAP];
    tc_cache_value_t out;
    int rc = cache_get_ex(c, k.tag, k.data, (size_t)k.len, (unsigned)options, 0, scratch, COPY_CAP,
                          &out);
    key_release(&k);
    if (rc == 0) Py_RETURN_NONE;
    if (rc < 0) return raise_code(rc, "get");
    PyObject *bytes = PyBytes_FromStringAndSize(out.data, (Py_ssize_t)out.len);
    if (out.pin) cache_unpin(c, out.pin);
    if (!bytes) return NULL;
    return Py_BuildValue("(INKd)", out.tag, bytes, (unsigned long long)out.cas, out.ttl);
}

/* incr(handle, key, delta, initial or None, value_tag) -> (code, signed result): code 1
 * applied, 0 absent, negative an error */
static PyObject *fp_incr(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) return wrong_args("incr(handle, key, delta, initial, value_tag)"), NULL;
    tc_cache_t *c = handle_of(args[0]);
    if (!c) return NULL;
    long long delta = PyLong_AsLongLong(args[2]);
    long vtag = PyLong_AsLong(args[4]);
    tc_cache_incr_t op = {.is_signed = true, .vtag = (unsigned)vtag};
    if (args[3] != Py_None) {
        op.create = true;
        op.initial = (uint64_t)PyLong_AsLongLong(args[3]);
    }
    struct key k;
    if (PyErr_Occurred() || key_encode(args[1], &k) < 0) return NULL;
    op.decrement = delta < 0;
    op.delta = delta < 0 ? (uint64_t)0 - (uint64_t)delta : (uint64_t)delta;
    uint64_t value = 0;
    int rc = cache_incr(c, k.tag, k.data, (size_t)k.len, &op, &value, NULL);
    key_release(&k);
    return Py_BuildValue("(iL)", rc, (long long)(int64_t)value);
}

/* A call of one key whose native result is 1 (yes) or 0 (no): a bool; errors raise. */
static PyObject *key_call(key_fn fn, const char *what, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s(handle, key)", what);
        return NULL;
    }
    tc_cache_t *c = handle_of(args[0]);
    struct key k;
    if (!c || key_encode(args[1], &k) < 0) return NULL;
    int rc = fn(c, k.tag, k.data, (size_t)k.len);
    key_release(&k);
    if (rc < 0) return raise_code(rc, what);
    return PyBool_FromLong(rc == 1);
}

/* delete(handle, key) -> True removed, False absent */
static PyObject *fp_delete(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return key_call(cache_delete, "delete", args, nargs);
}

/* contains(handle, key) -> bool */
static PyObject *fp_contains(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return key_call(cache_contains, "contains", args, nargs);
}

/* bind(addresses, error): addresses maps each tc_cache_* name below to its address (from the
 * cffi module); error(code, context) makes the exception for a TC_ERR_* code. */
static PyObject *fp_bind(PyObject *self, PyObject *args) {
    PyObject *addresses, *error;
    if (!PyArg_ParseTuple(args, "O!O", &PyDict_Type, &addresses, &error)) return NULL;
    if (!PyCallable_Check(error)) {
        PyErr_SetString(PyExc_TypeError, "bind(): error must be callable");
        return NULL;
    }
    struct {
        const char *name;
        void **slot;
    } table[] = {
        {"tc_cache_create", (void **)&cache_create},
        {"tc_cache_destroy", (void **)&cache_destroy},
        {"tc_cache_get", (void **)&cache_get},
        {"tc_cache_set", (void **)&cache_set},
        {"tc_cache_delete", (void **)&cache_delete},
        {"tc_cache_contains", (void **)&cache_contains},
        {"tc_cache_unpin", (void **)&cache_unpin},
        {"tc_cache_store", (void **)&cache_store},
        {"tc_cache_get_ex", (void **)&cache_get_ex},
        {"tc_cache_incr", (void **)&cache_incr},
    };
    enum { N = sizeof table / sizeof table[0] };
    void *found[N];
    for (size_t i = 0; i < N; i++) {
        PyObject *v = PyDict_GetItemString(addresses, table[i].name);
        found[i] = v ? PyLong_AsVoidPtr(v) : NULL;
        if (!found[i]) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "bind(): no address for %s", table[i].name);
            return NULL;
        }
    }
    for (size_t i = 0; i < N; i++) *table[i].slot = found[i];
    Py_XSETREF(error_factory, Py_NewRef(error));
    Py_RETURN_NONE;
}

#define FAST(name, doc) \
    { #name, (PyCFunction)(void (*)(void))fp_##name, METH_FASTCALL, doc }

static PyMethodDef methods[] = {
    FAST(get, "get(handle, key, default, copy, reader)"),
    FAST(set, "set(handle, key, value, value_tag, ttl)"),
    FAST(delete, "delete(handle, key)"),
    FAST(contains, "contains(handle, key)"),
    FAST(get_many, "get_many(handle, keys, copy, reader)"),
    FAST(set_many, "set_many(handle, pairs, ttl)"),
    FAST(delete_many, "delete_many(handle, keys)"),
    FAST(store, "store(handle, key, value, value_tag, ttl, mode, cas)"),
    FAST(get_ex, "get_ex(handle, key, options)"),
    FAST(incr, "incr(handle, key, delta, initial, value_tag)"),
    FAST(reader, "reader(handle, owner, loads)"),
    {"cache_create", fp_cache_create, METH_O, "cache_create(config) -> CacheHandle"},
    {"encode_key", tc_py_encode_key, METH_O, "encode_key(key) -> (tag, bytes)"},
    {"bind", fp_bind, METH_VARARGS, "bind(addresses, error)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tiercache._fastpath",
                                    "TierCache's per-key hot path.", -1, methods};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&ReaderType) < 0 || PyType_Ready(&tc_py_region_type) < 0 ||
        PyType_Ready(&CacheHandleType) < 0)
        return NULL;
    if (!absent && !(absent = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type))) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddObjectRef(m, "Region", (PyObject *)&tc_py_region_type) < 0 ||
              PyModule_AddObjectRef(m, "CacheHandle", (PyObject *)&CacheHandleType) < 0))
        Py_CLEAR(m);
    return m;
}
