/*
 * The key encoder of tiercache: a Python key as the (tag, bytes) pair the native cache
 * indexes. Written once, here; tiercache/serde.py's encode_key and every call of the fast path
 * (tiercache/_fastpath.c) use it. The format (what serde.py documents):
 *
 *   str    tag 1, UTF-8 (lone surrogates kept, as "surrogatepass" does)
 *   bytes  tag 2, the bytes
 *   int    tag 3, 8 bytes little-endian two's complement, for the signed 64-bit range;
 *          tag 4, decimal text, beyond it (bool is an int, as in a dict)
 *   tuple  tag 5, each item as [u8 tag][u32 little-endian length][its bytes]
 *
 * Subclasses encode as their base type. Anything else is a TypeError.
 */
#ifndef TIERCACHE_FASTPATH_KEY_H
#define TIERCACHE_FASTPATH_KEY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { KEY_STR = 1, KEY_BYTES = 2, KEY_INT = 3, KEY_BIGINT = 4, KEY_TUPLE = 5 };

/* An encoded key: data points into the key object, into buf, or into owner (a bytes object
 * the encoding made, released by key_release). */
struct key {
    unsigned tag;
    const char *data;
    Py_ssize_t len;
    PyObject *owner;
    char buf[8];
};

/* Every key the inline cases below do not take: 0 done, -1 with an exception set. */
int tc_py_key_encode_slow(PyObject *obj, struct key *k);

/* Encode obj: 0 done (call key_release after use), -1 with an exception set (TypeError for a
 * type that is no key). The common keys (exact str, bytes, and int of 64 bits) take no
 * allocation. */
static inline int key_encode(PyObject *obj, struct key *k) {
    k->owner = NULL;
    if (PyUnicode_CheckExact(obj)) {
        k->data = PyUnicode_AsUTF8AndSize(obj, &k->len);
        if (!k->data) { /* lone surrogates */
            PyErr_Clear();
            return tc_py_key_encode_slow(obj, k);
        }
        k->tag = KEY_STR;
        return 0;
    }
    if (PyBytes_CheckExact(obj)) {
        k->tag = KEY_BYTES;
        k->data = PyBytes_AS_STRING(obj);
        k->len = PyBytes_GET_SIZE(obj);
        return 0;
    }
    if (PyLong_CheckExact(obj)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (!overflow) {
            for (int i = 0; i < 8; i++) k->buf[i] = (char)((unsigned long long)v >> (8 * i));
            k->tag = KEY_INT;
            k->data = k->buf;
            k->len = 8;
            return 0;
        }
    }
    return tc_py_key_encode_slow(obj, k);
}

static inline void key_release(struct key *k) { Py_CLEAR(k->owner); }

/* encode_key(key) -> (tag, bytes): the Python face of the encoder (tiercache.serde). */
PyObject *tc_py_encode_key(PyObject *module, PyObject *key);

#endif
