/*
 * tiercache._fastpath: the per-key hot path of TierCache (get, set, delete, contains) as
 * plain CPython functions.
 *
 * Why not cffi here: a cffi call costs about 120 ns plus 25 ns per argument on the reference
 * machine, so a 7-argument tc_cache_get took ~300 ns before any work (the C work is ~26 ns),
 * three times a cachetools get. These functions cost one METH_FASTCALL call.
 *
 * They do not link libtiercache: bind() receives the addresses of the tc_cache_* functions
 * from the cffi module (tiercache._bindings), so there is one copy of the library and its
 * allocator in the process. Keys of type str, bytes and int and values of type bytes, str and
 * bytearray are encoded here exactly as tiercache/serde.py does; anything else returns
 * NotImplemented and Python encodes it and calls again with the tag.
 *
 * Small operations keep the GIL (the native work is tens of nanoseconds under the cache's
 * own mutex, which no GIL holder is ever waited on by); copies of 256 KiB or more release it.
 *
 * Results: get returns None (absent), bytes (a raw value), a read-only memoryview (a raw
 * value with copy=False: the stored bytes, pinned while the view lives), (tag, bytes or
 * memoryview) (another value), or a negative int (a TC_ERR_* code). set/delete/contains
 * return an int. get_many/set_many/delete_many do the same for each item of a list in one
 * call, with NotImplemented for an item whose key or value Python must encode.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "tiercache/cache.h"

typedef int (*get_fn)(tc_cache_t *, unsigned, const void *, size_t, void *, size_t,
                      tc_cache_value_t *);
typedef int (*set_fn)(tc_cache_t *, unsigned, const void *, size_t, const void *, size_t,
                      unsigned, double);
typedef int (*key_fn)(tc_cache_t *, unsigned, const void *, size_t);
typedef void (*unpin_fn)(tc_cache_t *, void *);
typedef int (*store_fn)(tc_cache_t *, tc_cache_mode_t, const tc_cache_item_t *, uint64_t *);
typedef int (*get_ex_fn)(tc_cache_t *, unsigned, const void *, size_t, unsigned, double, void *,
                         size_t, tc_cache_value_t *);
typedef int (*incr_fn)(tc_cache_t *, unsigned, const void *, size_t, const tc_cache_incr_t *,
                       uint64_t *, uint64_t *);

static get_fn cache_get;
static set_fn cache_set;
static key_fn cache_delete, cache_contains;
static unpin_fn cache_unpin;
static store_fn cache_store;
static get_ex_fn cache_get_ex;
static incr_fn cache_incr;

/* Must match tiercache/serde.py. */
enum { KEY_STR = 1, KEY_BYTES = 2, KEY_INT = 3 };
enum { VALUE_BYTES = 0, VALUE_BYTEARRAY = 1, VALUE_STR = 2 };
#define COPY_CAP (16 * 1024)        /* values up to this size are copied via the stack */
#define RELEASE_GIL_AT (256 * 1024) /* copies this large run without the GIL */

/* The exporter of a cache's pinned values (one per cache, made by exporter()): each get with
 * copy=False arms it with one pinned value and asks for a memoryview of it at once, so the
 * view's buffer carries the pin (in Py_buffer.internal) and its release unpins. A view costs
 * CPython's two objects (managed buffer and memoryview) and no object of ours. The exporter
 * holds the owner (the Python object that keeps the cache and its kinds alive) for as long as
 * any view exists. Asked for a buffer when not armed (memoryview(view.obj)), it refuses. */
typedef struct {
    PyObject_HEAD tc_cache_t *cache;
    PyObject *owner;
    void *pin; /* armed: the value to export next */
    void *data;
    Py_ssize_t len;
} Exporter;

static int exporter_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Exporter *x = (Exporter *)self;
    if (!x->pin) {
        PyErr_SetString(PyExc_BufferError, "a cache value is exported only by get()");
        return -1;
    }
    if (PyBuffer_FillInfo(view, self, x->data, x->len, 1, flags) < 0) return -1;
    view->internal = x->pin;
    x->pin = NULL;
    return 0;
}

static void exporter_releasebuffer(PyObject *self, Py_buffer *view) {
    cache_unpin(((Exporter *)self)->cache, view->internal);
}

static void exporter_dealloc(PyObject *self) {
    Py_XDECREF(((Exporter *)self)->owner);
    PyObject_Free(self);
}

static PyBufferProcs exporter_buffer = {exporter_getbuffer, exporter_releasebuffer};

static PyTypeObject ExporterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tiercache._fastpath.Exporter",
    .tp_basicsize = sizeof(Exporter),
    .tp_dealloc = exporter_dealloc,
    .tp_as_buffer = &exporter_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Exports a cache's pinned values read-only; a view's release unpins.",
};

/* A read-only memoryview of a pinned value; on failure the pin is released. */
static PyObject *pinned_view(Exporter *x, tc_cache_value_t *out) {
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

/* Region(address, size, readonly=False): a kind's memory exported as a buffer, counting the
 * buffers it has handed out (memoryviews and their slices each hold one through CPython's
 * managed buffer). tiercache/kinds.py keeps the memory until that count is 0: on_idle, when
 * set, is called once at the release of the last buffer. close() refuses new buffers. */
typedef struct {
    PyObject_HEAD void *data;
    Py_ssize_t len, exports;
    int readonly, closed;
    PyObject *on_idle;
} Region;

static int region_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Region *r = (Region *)self;
    if (r->closed) {
        PyErr_SetString(PyExc_BufferError, "the memory of this region was released");
        return -1;
    }
    if (PyBuffer_FillInfo(view, self, r->data, r->len, r->readonly, flags) < 0) return -1;
    r->exports++;
    return 0;
}

static void region_releasebuffer(PyObject *self, Py_buffer *view) {
    Region *r = (Region *)self;
    if (--r->exports || !r->on_idle) return;
    PyObject *cb = r->on_idle, *type, *value, *tb;
    r->on_idle = NULL;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *res = PyObject_CallNoArgs(cb);
    if (!res) PyErr_WriteUnraisable(cb);
    Py_XDECREF(res);
    Py_DECREF(cb);
    PyErr_Restore(type, value, tb);
}

static PyObject *region_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *names[] = {"address", "size", "readonly", NULL};
    unsigned long long addr;
    Py_ssize_t len;
    int readonly = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Kn|p", names, &addr, &len, &readonly))
        return NULL;
    if (len < 0 || (!addr && len)) {
        PyErr_SetString(PyExc_ValueError, "a region needs an address and a size >= 0");
        return NULL;
    }
    Region *r = (Region *)type->tp_alloc(type, 0);
    if (!r) return NULL;
    r->data = (void *)(uintptr_t)addr;
    r->len = len;
    r->readonly = readonly;
    return (PyObject *)r;
}

static void region_dealloc(PyObject *self) {
    Py_XDECREF(((Region *)self)->on_idle);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *region_close(PyObject *self, PyObject *unused) {
    ((Region *)self)->closed = 1;
    Py_RETURN_NONE;
}

static PyObject *region_get_exports(PyObject *self, void *unused) {
    return PyLong_FromSsize_t(((Region *)self)->exports);
}

static PyObject *region_get_on_idle(PyObject *self, void *unused) {
    PyObject *cb = ((Region *)self)->on_idle;
    return Py_NewRef(cb ? cb : Py_None);
}

static int region_set_on_idle(PyObject *self, PyObject *value, void *unused) {
    Region *r = (Region *)self;
    PyObject *old = r->on_idle;
    r->on_idle = value && value != Py_None ? Py_NewRef(value) : NULL;
    Py_XDECREF(old);
    return 0;
}

static PyGetSetDef region_getset[] = {
    {"exports", region_get_exports, NULL, "buffers handed out and not yet released", NULL},
    {"on_idle", region_get_on_idle, region_set_on_idle,
     "called once when the last buffer is released", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef region_methods[] = {
    {"close", region_close, METH_NOARGS, "refuse new buffers (existing ones stay valid)"},
    {NULL, NULL, 0, NULL},
};

static PyBufferProcs region_buffer = {region_getbuffer, region_releasebuffer};

static PyTypeObject RegionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tiercache._fastpath.Region",
    .tp_basicsize = sizeof(Region),
    .tp_new = region_new,
    .tp_dealloc = region_dealloc,
    .tp_as_buffer = &region_buffer,
    .tp_getset = region_getset,
    .tp_methods = region_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Region(address, size, readonly=False): memory exported with a count of views.",
};

struct key {
    unsigned tag;
    const void *data;
    Py_ssize_t len;
    char buf[8];
};

/* Encode a key: 1 when done, 0 when Python must encode it, -1 with an exception set. */
static int encode_key(PyObject *obj, PyObject *tag_obj, struct key *k) {
    long tag = PyLong_AsLong(tag_obj);
    if (tag == -1 && PyErr_Occurred()) return -1;
    if (tag >= 0) { /* pre-encoded by Python */
        if (!PyBytes_Check(obj)) {
            PyErr_SetString(PyExc_TypeError, "an encoded key must be bytes");
            return -1;
        }
        k->tag = (unsigned)tag;
        k->data = PyBytes_AS_STRING(obj);
        k->len = PyBytes_GET_SIZE(obj);
        return 1;
    }
    if (PyUnicode_CheckExact(obj)) {
        k->data = PyUnicode_AsUTF8AndSize(obj, &k->len);
        if (!k->data) { /* lone surrogates: serde.py's surrogatepass handles them */
            PyErr_Clear();
            return 0;
        }
        k->tag = KEY_STR;
        return 1;
    }
    if (PyBytes_CheckExact(obj)) {
        k->tag = KEY_BYTES;
        k->data = PyBytes_AS_STRING(obj);
        k->len = PyBytes_GET_SIZE(obj);
        return 1;
    }
    if (PyLong_CheckExact(obj) || PyBool_Check(obj)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
        for (int i = 0; i < 8; i++) k->buf[i] = (char)((unsigned long long)v >> (8 * i));
        k->tag = KEY_INT;
        k->data = k->buf;
        k->len = 8;
        return 1;
    }
    return 0;
}

static tc_cache_t *handle_of(PyObject *obj) {
    void *p = PyLong_AsVoidPtr(obj);
    if (!p && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "NULL cache handle");
    return p;
}

static bool check_bound(void) {
    if (cache_get) return true;
    PyErr_SetString(PyExc_RuntimeError, "tiercache._fastpath.bind() was not called");
    return false;
}

/* The common start of every call (handle, key, key_tag, ...): checks the argument count,
 * finds the cache and encodes the key. 1 when done, 0 when Python must encode the key, -1
 * with an exception set. */
static int begin(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, const char *usage,
                 tc_cache_t **c, struct key *k) {
    if (nargs != want) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    if (!check_bound() || !(*c = handle_of(args[0]))) return -1;
    return encode_key(args[1], args[2], k);
}

/* What a call returns when begin() did not give it a key. */
static PyObject *not_begun(int status) {
    return status < 0 ? NULL : Py_NewRef(Py_NotImplemented);
}

/* One get of an encoded key (see get). */
static PyObject *get_encoded(tc_cache_t *c, const struct key *k, int copy, Exporter *x) {
    char scratch[COPY_CAP];
    tc_cache_value_t out;
    int rc = cache_get(c, k->tag, k->data, (size_t)k->len, scratch, copy ? COPY_CAP : 0, &out);
    if (rc == 0) Py_RETURN_NONE;
    if (rc < 0) return PyLong_FromLong(rc);
    if (out.pin && !copy) {
        PyObject *view = pinned_view(x, &out);
        if (!view || out.tag == VALUE_BYTES) return view;
        return Py_BuildValue("(IN)", out.tag, view);
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
    if (!bytes || out.tag == VALUE_BYTES) return bytes;
    return Py_BuildValue("(IN)", out.tag, bytes);
}

static bool exporter_ok(tc_cache_t *c, int copy, PyObject *x) {
    if (copy || (Py_TYPE(x) == &ExporterType && ((Exporter *)x)->cache == c)) return true;
    PyErr_SetString(PyExc_TypeError, "get(copy=False) needs this cache's exporter()");
    return false;
}

/* get(handle, key, key_tag, copy, exporter) */
static PyObject *fp_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    struct key k;
    int status = begin(args, nargs, 5, "get(handle, key, key_tag, copy, exporter)", &c, &k);
    if (status <= 0) return not_begun(status);
    int copy = PyObject_IsTrue(args[3]);
    if (copy < 0 || !exporter_ok(c, copy, args[4])) return NULL;
    return get_encoded(c, &k, copy, (Exporter *)args[4]);
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
    if (got <= 0) return not_begun(got);
    int rc;
    if (len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS rc = cache_set(c, k->tag, k->data, (size_t)k->len, data,
                                              (size_t)len, (unsigned)vtag, ttl);
        Py_END_ALLOW_THREADS
    } else {
        rc = cache_set(c, k->tag, k->data, (size_t)k->len, data, (size_t)len, (unsigned)vtag,
                       ttl);
    }
    if (view.obj) PyBuffer_Release(&view);
    return PyLong_FromLong(rc);
}

/* set(handle, key, key_tag, value, value_tag, ttl) */
static PyObject *fp_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    struct key k;
    int status =
        begin(args, nargs, 6, "set(handle, key, key_tag, value, value_tag, ttl)", &c, &k);
    if (status <= 0) return not_begun(status);
    long vtag = PyLong_AsLong(args[4]);
    double ttl = PyFloat_AsDouble(args[5]);
    if (PyErr_Occurred()) return NULL;
    return set_encoded(c, &k, args[3], vtag, ttl);
}

/* ---- batches: one call for many keys; an item Python must encode gives NotImplemented ---- */

static PyObject *minus_one;

/* The result of op for each key of a list: a new list, or NULL with an exception. */
static PyObject *each_key(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want,
                          const char *usage, tc_cache_t **c, PyObject **list) {
    if (nargs != want) {
        PyErr_SetString(PyExc_TypeError, usage);
        return NULL;
    }
    if (!check_bound() || !(*c = handle_of(args[0]))) return NULL;
    if (!PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "a list is needed");
        return NULL;
    }
    *list = args[1];
    return PyList_New(PyList_GET_SIZE(args[1]));
}

/* get_many(handle, keys, copy, exporter) -> a list of what get gives for each key */
static PyObject *fp_get_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    PyObject *keys;
    PyObject *out = each_key(args, nargs, 4, "get_many(handle, keys, copy, exporter)", &c, &keys);
    if (!out) return NULL;
    int copy = PyObject_IsTrue(args[2]);
    if (copy < 0 || !exporter_ok(c, copy, args[3])) goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        struct key k;
        int status = encode_key(PyList_GET_ITEM(keys, i), minus_one, &k);
        PyObject *r = status <= 0 ? not_begun(status) : get_encoded(c, &k, copy, (Exporter *)args[3]);
        if (!r) goto fail;
        PyList_SET_ITEM(out, i, r);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* set_many(handle, pairs, ttl) -> set's result for each (key, value) pair, up to and
 * including the first that is not 0 (an error, or NotImplemented): the pairs after it are
 * left for the caller, so that a batch stops where it fails. */
static PyObject *fp_set_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    PyObject *pairs;
    PyObject *out = each_key(args, nargs, 3, "set_many(handle, pairs, ttl)", &c, &pairs);
    if (!out) return NULL;
    double ttl = PyFloat_AsDouble(args[2]);
    if (PyErr_Occurred()) goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pairs); i++) {
        PyObject *pair = PyList_GET_ITEM(pairs, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "set_many needs (key, value) pairs");
            goto fail;
        }
        struct key k;
        int status = encode_key(PyTuple_GET_ITEM(pair, 0), minus_one, &k);
        PyObject *r = status <= 0 ? not_begun(status)
                                  : set_encoded(c, &k, PyTuple_GET_ITEM(pair, 1), -1, ttl);
        if (!r) goto fail;
        PyList_SET_ITEM(out, i, r);
        if (r == Py_NotImplemented || PyLong_AsLong(r) != 0) { /* Python takes over here */
            PyObject *done = PyList_GetSlice(out, 0, i + 1);
            Py_DECREF(out);
            return done;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* delete_many(handle, keys) -> a list of delete's result for each key */
static PyObject *fp_delete_many(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    PyObject *keys;
    PyObject *out = each_key(args, nargs, 2, "delete_many(handle, keys)", &c, &keys);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        struct key k;
        int status = encode_key(PyList_GET_ITEM(keys, i), minus_one, &k);
        PyObject *r = status <= 0 ? not_begun(status)
                                  : PyLong_FromLong(cache_delete(c, k.tag, k.data, (size_t)k.len));
        if (!r) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, r);
    }
    return out;
}

/* ---- one-step operations (tiercache/atomic.py) ---- */

/* store(handle, key, key_tag, value, value_tag, ttl, mode, cas) -> tc_cache_store's result (a
 * TC_CACHE_* code or a negative TC_ERR_*), or NotImplemented (Python encodes and calls again) */
static PyObject *fp_store(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    struct key k;
    int status = begin(args, nargs, 8,
                       "store(handle, key, key_tag, value, value_tag, ttl, mode, cas)", &c, &k);
    if (status <= 0) return not_begun(status);
    long vtag = PyLong_AsLong(args[4]);
    double ttl = PyFloat_AsDouble(args[5]);
    long mode = PyLong_AsLong(args[6]);
    unsigned long long cas = PyLong_AsUnsignedLongLong(args[7]);
    if (PyErr_Occurred()) return NULL;
    const char *data;
    Py_ssize_t len;
    Py_buffer view = {0};
    int got = value_bytes(args[3], &vtag, &data, &len, &view);
    if (got <= 0) return not_begun(got);
    tc_cache_item_t item = {.ktag = k.tag, .key = k.data, .klen = (size_t)k.len, .value = data,
                            .vlen = (size_t)len, .vtag = (unsigned)vtag, .ttl = ttl,
                            .cas = cas};
    int rc = cache_store(c, (tc_cache_mode_t)mode, &item, NULL);
    if (view.obj) PyBuffer_Release(&view);
    return PyLong_FromLong(rc);
}

/* get_ex(handle, key, key_tag, options) -> None (absent), a negative int (error), or
 * (tag, bytes, cas, seconds left or 0.0) */
static PyObject *fp_get_ex(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    struct key k;
    int status = begin(args, nargs, 4, "get_ex(handle, key, key_tag, options)", &c, &k);
    if (status <= 0) return not_begun(status);
    unsigned long options = PyLong_AsUnsignedLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    char scratch[COPY_CAP];
    tc_cache_value_t out;
    int rc = cache_get_ex(c, k.tag, k.data, (size_t)k.len, (unsigned)options, 0, scratch,
                          COPY_CAP, &out);
    if (rc == 0) Py_RETURN_NONE;
    if (rc < 0) return PyLong_FromLong(rc);
    PyObject *bytes = PyBytes_FromStringAndSize(out.data, (Py_ssize_t)out.len);
    if (out.pin) cache_unpin(c, out.pin);
    if (!bytes) return NULL;
    return Py_BuildValue("(INKd)", out.tag, bytes, (unsigned long long)out.cas, out.ttl);
}

/* incr(handle, key, key_tag, delta, initial or None, value_tag) -> (rc, signed result):
 * rc 1 applied, 0 absent, negative an error */
static PyObject *fp_incr(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    struct key k;
    int status = begin(args, nargs, 6, "incr(handle, key, key_tag, delta, initial, value_tag)",
                       &c, &k);
    if (status <= 0) return not_begun(status);
    long long delta = PyLong_AsLongLong(args[3]);
    long vtag = PyLong_AsLong(args[5]);
    tc_cache_incr_t op = {.is_signed = true, .vtag = (unsigned)vtag};
    if (args[4] != Py_None) {
        op.create = true;
        op.initial = (uint64_t)PyLong_AsLongLong(args[4]);
    }
    if (PyErr_Occurred()) return NULL;
    op.decrement = delta < 0;
    op.delta = delta < 0 ? (uint64_t)0 - (uint64_t)delta : (uint64_t)delta;
    uint64_t value = 0;
    int rc = cache_incr(c, k.tag, k.data, (size_t)k.len, &op, &value, NULL);
    return Py_BuildValue("(iL)", rc, (long long)(int64_t)value);
}

static PyObject *key_call(key_fn fn, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    struct key k;
    int status = begin(args, nargs, 3, "(handle, key, key_tag)", &c, &k);
    if (status <= 0) return not_begun(status);
    return PyLong_FromLong(fn(c, k.tag, k.data, (size_t)k.len));
}

/* delete(handle, key, key_tag) -> 1 removed, 0 absent, <0 error */
static PyObject *fp_delete(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return key_call(cache_delete, args, nargs);
}

/* contains(handle, key, key_tag) -> 1, 0, <0 error */
static PyObject *fp_contains(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return key_call(cache_contains, args, nargs);
}

/* bind(get, set, delete, contains, unpin, store, get_ex, incr): addresses of the tc_cache_*
 * functions. */
static PyObject *fp_bind(PyObject *self, PyObject *args) {
    unsigned long long g, s, d, h, u, st, gx, in;
    if (!PyArg_ParseTuple(args, "KKKKKKKK", &g, &s, &d, &h, &u, &st, &gx, &in)) return NULL;
    if (!g || !s || !d || !h || !u || !st || !gx || !in) {
        PyErr_SetString(PyExc_ValueError, "bind() needs eight function addresses");
        return NULL;
    }
    cache_store = (store_fn)(uintptr_t)st;
    cache_get_ex = (get_ex_fn)(uintptr_t)gx;
    cache_incr = (incr_fn)(uintptr_t)in;
    cache_get = (get_fn)(uintptr_t)g;
    cache_set = (set_fn)(uintptr_t)s;
    cache_delete = (key_fn)(uintptr_t)d;
    cache_contains = (key_fn)(uintptr_t)h;
    cache_unpin = (unpin_fn)(uintptr_t)u;
    Py_RETURN_NONE;
}

/* exporter(handle, owner): the exporter that get(copy=False) on this cache needs. */
static PyObject *fp_exporter(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "exporter(handle, owner)");
        return NULL;
    }
    tc_cache_t *c = handle_of(args[0]);
    if (!c) return NULL;
    Exporter *x = PyObject_New(Exporter, &ExporterType);
    if (!x) return NULL;
    x->cache = c;
    x->owner = Py_NewRef(args[1]);
    x->pin = NULL;
    x->data = NULL;
    x->len = 0;
    return (PyObject *)x;
}

static PyMethodDef methods[] = {
    {"exporter", (PyCFunction)(void (*)(void))fp_exporter, METH_FASTCALL,
     "exporter(handle, owner)"},
    {"get", (PyCFunction)(void (*)(void))fp_get, METH_FASTCALL, "get(handle, key, key_tag, copy, exporter)"},
    {"set", (PyCFunction)(void (*)(void))fp_set, METH_FASTCALL,
     "set(handle, key, key_tag, value, value_tag, ttl)"},
    {"delete", (PyCFunction)(void (*)(void))fp_delete, METH_FASTCALL, "delete(handle, key, key_tag)"},
    {"contains", (PyCFunction)(void (*)(void))fp_contains, METH_FASTCALL,
     "contains(handle, key, key_tag)"},
    {"get_many", (PyCFunction)(void (*)(void))fp_get_many, METH_FASTCALL,
     "get_many(handle, keys, copy, exporter)"},
    {"set_many", (PyCFunction)(void (*)(void))fp_set_many, METH_FASTCALL,
     "set_many(handle, pairs, ttl)"},
    {"delete_many", (PyCFunction)(void (*)(void))fp_delete_many, METH_FASTCALL,
     "delete_many(handle, keys)"},
    {"store", (PyCFunction)(void (*)(void))fp_store, METH_FASTCALL,
     "store(handle, key, key_tag, value, value_tag, ttl, mode, cas)"},
    {"get_ex", (PyCFunction)(void (*)(void))fp_get_ex, METH_FASTCALL,
     "get_ex(handle, key, key_tag, options)"},
    {"incr", (PyCFunction)(void (*)(void))fp_incr, METH_FASTCALL,
     "incr(handle, key, key_tag, delta, initial, value_tag)"},
    {"bind", fp_bind, METH_VARARGS, "bind(get, set, delete, contains, unpin, store, get_ex, incr)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tiercache._fastpath",
                                    "TierCache's per-key hot path.", -1, methods};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&ExporterType) < 0 || PyType_Ready(&RegionType) < 0) return NULL;
    if (!minus_one && !(minus_one = PyLong_FromLong(-1))) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddObjectRef(m, "Region", (PyObject *)&RegionType) < 0) Py_CLEAR(m);
    return m;
}
