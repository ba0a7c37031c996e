/*
 * Region: a kind's memory exported as a buffer (tiercache/kinds.py's Allocation.view), with
 * a count of the buffers handed out.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

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
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Kn|p", names, &addr, &len, &readonly)) return NULL;
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

PyTypeObject tc_py_region_type = {
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
