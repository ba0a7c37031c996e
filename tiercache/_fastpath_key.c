/*
 * The key encoder's general case (see _fastpath_key.h for the format): str with lone
 * surrogates, subclasses of str/bytes/int, ints beyond 64 bits and tuples. The result is built
 * in a growable buffer and handed over as a bytes object (struct key's owner).
 */
#include "_fastpath_key.h"

#include <string.h>

struct kbuf {
    char *p;
    Py_ssize_t len, cap;
};

static int kbuf_reserve(struct kbuf *b, Py_ssize_t n) {
    if (b->len + n <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *p = PyMem_Realloc(b->p, (size_t)cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int kbuf_put(struct kbuf *b, const void *data, Py_ssize_t n) {
    if (kbuf_reserve(b, n) < 0) return -1;
    if (n) memcpy(b->p + b->len, data, (size_t)n);
    b->len += n;
    return 0;
}

static int put_str(struct kbuf *b, PyObject *obj) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
    if (s) return kbuf_put(b, s, n);
    PyErr_Clear(); /* lone surrogates: written as they are, as "surrogatepass" does */
    PyObject *raw = PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass");
    if (!raw) return -1;
    int rc = kbuf_put(b, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    Py_DECREF(raw);
    return rc;
}

/* An int: 8 bytes when it fits in 64 signed bits (tag 3), else its decimal text (tag 4). */
static int put_int(struct kbuf *b, PyObject *obj, unsigned *tag) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (!overflow) {
        char le[8];
        for (int i = 0; i < 8; i++) le[i] = (char)((unsigned long long)v >> (8 * i));
        *tag = KEY_INT;
        return kbuf_put(b, le, 8);
    }
    PyObject *exact = PyNumber_Long(obj); /* a subclass's own __str__ must not count */
    PyObject *text = exact ? PyObject_Str(exact) : NULL;
    Py_XDECREF(exact);
    if (!text) return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    int rc = s ? kbuf_put(b, s, n) : -1;
    Py_DECREF(text);
    *tag = KEY_BIGINT;
    return rc;
}

static int put_key(struct kbuf *b, PyObject *obj, unsigned *tag);

/* A tuple: each item as [u8 tag][u32 little-endian length][bytes]. */
static int put_tuple(struct kbuf *b, PyObject *obj) {
    if (Py_EnterRecursiveCall(" while encoding a key")) return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(obj) && rc == 0; i++) {
        Py_ssize_t head = b->len;
        unsigned tag = 0;
        if ((rc = kbuf_reserve(b, 5)) < 0) break;
        b->len += 5;
        if ((rc = put_key(b, PyTuple_GET_ITEM(obj, i), &tag)) < 0) break;
        Py_ssize_t n = b->len - head - 5;
        if (n > 0xFFFFFFFFLL) {
            PyErr_SetString(PyExc_OverflowError, "a key's tuple item is over 4 GiB");
            rc = -1;
            break;
        }
        unsigned char *h = (unsigned char *)b->p + head;
        h[0] = (unsigned char)tag;
        for (int j = 0; j < 4; j++) h[1 + j] = (unsigned char)((unsigned long long)n >> (8 * j));
    }
    Py_LeaveRecursiveCall();
    return rc;
}

static int put_key(struct kbuf *b, PyObject *obj, unsigned *tag) {
    if (PyUnicode_Check(obj)) {
        *tag = KEY_STR;
        return put_str(b, obj);
    }
    if (PyBytes_Check(obj)) {
        *tag = KEY_BYTES;
        return kbuf_put(b, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj));
    }
    if (PyLong_Check(obj)) return put_int(b, obj, tag); /* bool too */
    if (PyTuple_Check(obj)) {
        *tag = KEY_TUPLE;
        return put_tuple(b, obj);
    }
    PyErr_Format(PyExc_TypeError,
                 "unsupported key type '%.200s': keys are str, bytes, int or tuples of these",
                 Py_TYPE(obj)->tp_name);
    return -1;
}

int tc_py_key_encode_slow(PyObject *obj, struct key *k) {
    struct kbuf b = {NULL, 0, 0};
    unsigned tag = 0;
    k->owner = NULL;
    if (put_key(&b, obj, &tag) < 0) {
        PyMem_Free(b.p);
        return -1;
    }
    k->owner = PyBytes_FromStringAndSize(b.p, b.len);
    PyMem_Free(b.p);
    if (!k->owner) return -1;
    k->tag = tag;
    k->data = PyBytes_AS_STRING(k->owner);
    k->len = PyBytes_GET_SIZE(k->owner);
    return 0;
}

PyObject *tc_py_encode_key(PyObject *module, PyObject *obj) {
    struct key k;
    if (key_encode(obj, &k) < 0) return NULL;
    PyObject *data;
    if (k.owner) data = Py_NewRef(k.owner);
    else if (PyBytes_CheckExact(obj)) data = Py_NewRef(obj); /* encoded as itself */
    else data = PyBytes_FromStringAndSize(k.data, k.len);
    key_release(&k);
    if (!data) return NULL;
    return Py_BuildValue("(IN)", k.tag, data);
}
