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
 * return an int.
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

static get_fn cache_get;
static set_fn cache_set;
static key_fn cache_delete, cache_contains;
static unpin_fn cache_unpin;

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

/* get(handle, key, key_tag, copy, exporter) */
static PyObject *fp_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    tc_cache_t *c;
    struct key k;
    int status = begin(args, nargs, 5, "get(handle, key, key_tag, copy, exporter)", &c, &k);
    if (status <= 0) return not_begun(status);
    int copy = PyObject_IsTrue(args[3]);
    if (copy < 0) return NULL;
    Exporter *x = (Exporter *)args[4];
    if (!copy && (Py_TYPE(x) != &ExporterType || x->cache != c)) {
        PyErr_SetString(PyExc_TypeError, "get(copy=False) needs this cache's exporter()");
        return NULL;
    }
    char scratch[COPY_CAP];
    tc_cache_value_t out;
    int rc = cache_get(c, k.tag, k.data, (size_t)k.len, scratch, copy ? COPY_CAP : 0, &out);
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
    PyObject *v = args[3];
    const char *data;
    Py_ssize_t len;
    Py_buffer view = {0};
    if (PyBytes_CheckExact(v)) {
        data = PyBytes_AS_STRING(v);
        len = PyBytes_GET_SIZE(v);
        if (vtag < 0) vtag = VALUE_BYTES;
    } else if (vtag < 0 && PyUnicode_CheckExact(v)) {
        data = PyUnicode_AsUTF8AndSize(v, &len);
        if (!data) {
            PyErr_Clear();
            return Py_NewRef(Py_NotImplemented);
        }
        vtag = VALUE_STR;
    } else if (PyByteArray_CheckExact(v) || vtag >= 0) {
        if (PyObject_GetBuffer(v, &view, PyBUF_SIMPLE) < 0) return NULL;
        data = view.buf;
        len = view.len;
        if (vtag < 0) vtag = VALUE_BYTEARRAY;
    } else {
        return Py_NewRef(Py_NotImplemented);
    }
    int rc;
    if (len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS rc = cache_set(c, k.tag, k.data, (size_t)k.len, data, (size_t)len,
                                              (unsigned)vtag, ttl);
        Py_END_ALLOW_THREADS
    } else {
        rc = cache_set(c, k.tag, k.data, (size_t)k.len, data, (size_t)len, (unsigned)vtag, ttl);
    }
    if (view.obj) PyBuffer_Release(&view);
    return PyLong_FromLong(rc);
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

/* bind(get, set, delete, contains, unpin): addresses of the tc_cache_* functions. */
static PyObject *fp_bind(PyObject *self, PyObject *args) {
    unsigned long long g, s, d, h, u;
    if (!PyArg_ParseTuple(args, "KKKKK", &g, &s, &d, &h, &u)) return NULL;
    if (!g || !s || !d || !h || !u) {
        PyErr_SetString(PyExc_ValueError, "bind() needs five function addresses");
        return NULL;
    }
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
    {"bind", fp_bind, METH_VARARGS, "bind(get, set, delete, contains, unpin)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tiercache._fastpath",
                                    "TierCache's per-key hot path.", -1, methods};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&ExporterType) < 0 || PyType_Ready(&RegionType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddObjectRef(m, "Region", (PyObject *)&RegionType) < 0) Py_CLEAR(m);
    return m;
}
