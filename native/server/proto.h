/* Helpers shared by the text and meta protocol parsers. */
#ifndef TC_SERVER_PROTO_H
#define TC_SERVER_PROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

typedef struct tok {
    const char *s;
    size_t n;
} tok_t;

/* Split line on spaces (runs of spaces count as one, as memcached's tokenizer does) into at
 * most max tokens; returns how many, or max + 1 when there are more. */
size_t tcs_tokenize(const char *line, size_t len, tok_t *toks, size_t max);
bool tok_is(const tok_t *t, const char *s);
/* memcached's safe_strto* over a token: decimal, whole token, in range. */
bool tok_u64(const tok_t *t, uint64_t *out);
bool tok_u32(const tok_t *t, uint32_t *out);
bool tok_i64(const tok_t *t, int64_t *out);
bool tok_i32(const tok_t *t, int32_t *out);
#endif
