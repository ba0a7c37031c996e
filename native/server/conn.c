/*
 * A client connection: its buffers, the command/data state machine, pipelining and
 * backpressure. Input is parsed as it arrives, command after command, each answered into the
 * output buffer; when the unsent output passes --output-limit, reading stops (the kernel then
 * pushes back on the client) and resumes when the client has read most of it. Memory per
 * connection is bounded: a command line by 16 KiB (multi-key get lines by LONG_LINE_MAX), a data
 * block by -I (larger ones are discarded as they arrive), the output by the limit plus one
 * reply part (a multi-key get pauses between keys).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server.h"

/* memcached reads up to 16 KiB at a time and closes a connection whose read held no '\n' past
 * 2 KiB unless it is a get/gets line: in effect, lines up to 16 KiB are read. */
#define LINE_MAX_BYTES 16384
#define LONG_LINE_MAX (2u * 1024 * 1024) /* a multi-key get line */

static void process(tcs_conn_t *c);

static void conn_link(tcs_worker_t *w, tcs_conn_t *c) {
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
}

static void conn_unlink(tcs_conn_t *c) {
    if (c->prev) c->prev->next = c->next;
    else c->worker->conns = c->next;
    if (c->next) c->next->prev = c->prev;
}

void tcs_conn_free(tcs_conn_t *c) {
    conn_unlink(c);
    bufferevent_free(c->bev); /* closes the socket; releases pinned values still queued */
    free(c);
    atomic_fetch_sub(&tcs_curr_conns, 1);
}

static void block_reading(tcs_conn_t *c) {
    if (!c->blocked) {
        c->blocked = true;
        bufferevent_disable(c->bev, EV_READ);
    }
}

static void on_read(struct bufferevent *bev, void *arg) { process(arg); }

static void on_write(struct bufferevent *bev, void *arg) {
    tcs_conn_t *c = arg;
    struct evbuffer *out = bufferevent_get_output(bev);
    if (c->state == CONN_CLOSING) {
        if (evbuffer_get_length(out) == 0) tcs_conn_free(c);
        return;
    }
    if (c->blocked && evbuffer_get_length(out) <= tcs_settings.out_limit / 4) {
        c->blocked = false;
        bufferevent_enable(bev, EV_READ);
        process(c); /* commands may already be waiting in the input */
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    tcs_conn_t *c = arg;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        /* The client closed its side: send what is already answered, then close. */
        c->state = CONN_CLOSING;
        bufferevent_disable(bev, EV_READ);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) tcs_log(2, "connection idle for %ds: closed", tcs_settings.idle_timeout);
    tcs_conn_free(c);
}

void tcs_conn_new(tcs_worker_t *w, int fd, bool is_unix) {
    tcs_conn_t *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        atomic_fetch_sub(&tcs_curr_conns, 1);
        return;
    }
    c->worker = w;
    c->bev = bev;
    c->is_unix = is_unix;
    c->state = CONN_CMD;
    conn_link(w, c);
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(bev, EV_WRITE, tcs_settings.out_limit / 4, 0);
    if (tcs_settings.idle_timeout > 0) {
        struct timeval tv = {tcs_settings.idle_timeout, 0};
        bufferevent_set_timeouts(bev, &tv, &tv);
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    tcs_log(2, "<%d new %s client connection", fd, is_unix ? "unix" : "tcp");
}

/* ---- output ---- */

void tcs_out(tcs_conn_t *c, const void *data, size_t len) {
    evbuffer_add(bufferevent_get_output(c->bev), data, len);
    TCS_ADD(&c->worker->counters, bytes_written, len);
}

void tcs_out_str(tcs_conn_t *c, const char *s) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t n = strlen(s);
    evbuffer_add(out, s, n);
    evbuffer_add(out, "\r\n", 2);
    TCS_ADD(&c->worker->counters, bytes_written, n + 2);
}

void tcs_out_fmt(tcs_conn_t *c, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    tcs_out(c, buf, (size_t)n);
}

static void unpin_cb(const void *data, size_t len, void *pin) { tc_cache_unpin(tcs_cache(), pin); }

void tcs_out_value(tcs_conn_t *c, const tc_cache_value_t *v) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (v->pin) {
        if (evbuffer_add_reference(out, v->data, v->len, unpin_cb, v->pin) != 0)
            tc_cache_unpin(tcs_cache(), v->pin);
    } else {
        evbuffer_add(out, v->data, v->len);
    }
    TCS_ADD(&c->worker->counters, bytes_written, v->len);
}

bool tcs_out_full(tcs_conn_t *c) {
    return evbuffer_get_length(bufferevent_get_output(c->bev)) >= tcs_settings.out_limit;
}

void tcs_conn_close_after_write(tcs_conn_t *c) {
    c->state = CONN_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
}

/* ---- input ---- */

/* memcached keeps reading a long line without '\n' only for a multi-key get. */
static bool long_line_allowed(struct evbuffer *in) {
    unsigned char head[110];
    ev_ssize_t n = evbuffer_copyout(in, head, sizeof head);
    ev_ssize_t i = 0;
    while (i < n && head[i] == ' ') i++;
    if (i > 100) return false;
    return (n - i >= 4 && memcmp(head + i, "get ", 4) == 0) ||
           (n - i >= 5 && memcmp(head + i, "gets ", 5) == 0);
}

/* A storage command's data block (text or meta) ends in \r\n; when it does not, memcached
 * answers "CLIENT_ERROR bad data chunk" and stores nothing. */
static bool data_block_ends_ok(tcs_conn_t *c, const char *data, size_t len) {
    if (len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n') return true;
    tcs_out_str(c, "CLIENT_ERROR bad data chunk");
    TCS_INC(&c->worker->counters, protocol_errors);
    return false;
}

static void process(tcs_conn_t *c) {
    struct evbuffer *in = bufferevent_get_input(c->bev);
    tcs_counters_t *ctr = &c->worker->counters;
    size_t before = evbuffer_get_length(in);
    TCS_ADD(ctr, bytes_read, before - c->seen);
    while (c->state != CONN_CLOSING) {
        if (tcs_out_full(c)) {
            block_reading(c);
            break;
        }
        size_t avail = evbuffer_get_length(in);
        if (avail == 0) break;
        if (c->state == CONN_SWALLOW) {
            size_t n = avail < c->swallow ? avail : c->swallow;
            evbuffer_drain(in, n);
            c->swallow -= n;
            if (c->swallow == 0) c->state = CONN_CMD;
            continue;
        }
        if (c->state == CONN_NREAD) {
            size_t need = c->pend.vlen + 2;
            if (avail < need) break;
            char *data = (char *)evbuffer_pullup(in, (ev_ssize_t)need);
            if (!data) {
                tcs_out_str(c, "SERVER_ERROR out of memory reading request");
                tcs_conn_close_after_write(c);
                break;
            }
            c->state = CONN_CMD;
            if (!data_block_ends_ok(c, data, need)) {
                evbuffer_drain(in, need);
                continue;
            }
            if (c->pend.meta) tcs_proto_meta_data(c, data, need);
            else tcs_proto_text_data(c, data, need);
            evbuffer_drain(in, need);
            continue;
        }
        /* CONN_CMD: a line */
        struct evbuffer_ptr start, eol;
        evbuffer_ptr_set(in, &start, c->scanned, EVBUFFER_PTR_SET);
        eol = evbuffer_search(in, "\n", 1, &start);
        if (eol.pos < 0) {
            c->scanned = avail;
            if (avail > LINE_MAX_BYTES && (avail > LONG_LINE_MAX || !long_line_allowed(in))) {
                tcs_log(1, "line too long (%zu bytes without a newline): closing", avail);
                TCS_INC(ctr, protocol_errors);
                tcs_conn_close_after_write(c);
            }
            break;
        }
        size_t linelen = (size_t)eol.pos + 1;
        char *line = (char *)evbuffer_pullup(in, (ev_ssize_t)linelen);
        if (!line) {
            tcs_conn_close_after_write(c);
            break;
        }
        size_t len = linelen - 1;
        if (len > 0 && line[len - 1] == '\r') len--;
        line[len] = '\0';
        if (tcs_settings.verbose > 1) tcs_log(2, "<%p %.*s", (void *)c, (int)(len < 200 ? len : 200), line);
        tcs_dispatch_t r = tcs_proto_text(c, line, len);
        if (r == DISPATCH_PAUSE) continue; /* output full: blocks at the top, line kept */
        evbuffer_drain(in, linelen);
        c->scanned = 0;
        c->resume = 0;
        if (r == DISPATCH_NREAD) {
            if (c->state == CONN_CMD) c->state = CONN_NREAD;
        } else if (r == DISPATCH_CLOSE) {
            tcs_conn_close_after_write(c);
        }
    }
    c->seen = evbuffer_get_length(in);
    if (c->state == CONN_CLOSING && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        tcs_conn_free(c);
}
