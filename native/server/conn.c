/*
 * A client connection: its buffers, the command/data state machine, pipelining and
 * backpressure. Input is parsed as it arrives, command after command, each answered into the
 * output buffer; when the unsent output passes --output-limit, reading stops (the kernel then
 * pushes back on the client) and resumes when the client has read most of it. Memory per
 * connection is bounded: a command line by 16 KiB (multi-key get lines by LONG_LINE_MAX), a data
 * block by -I (larger ones are discarded as they arrive), the output by the limit plus one
 * reply part (a multi-key get pauses between keys).
 *
 * I/O: a persistent read event (with the idle timeout) reads 16 KiB at most into the input
 * buffer; the commands found there are answered into the output buffer, which is written at
 * once (one writev). Only when the socket does not take it all is a write event added, so a
 * request costs one recv and one writev and no epoll_ctl.
 */
#include <errno.h>
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
static bool flush_out(tcs_conn_t *c);

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
    event_free(c->rev);
    event_free(c->wev);
    evbuffer_free(c->in);
    evbuffer_free(c->out); /* releases pinned values still queued */
    evutil_closesocket(c->fd);
    free(c);
    atomic_fetch_sub(&tcs_curr_conns, 1);
}

static void block_reading(tcs_conn_t *c) {
    if (!c->blocked) {
        c->blocked = true;
        event_del(c->rev);
    }
}

static bool retriable(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

static const struct timeval *idle_tv(void) {
    static struct timeval tv;
    if (tcs_settings.idle_timeout <= 0) return NULL;
    tv.tv_sec = tcs_settings.idle_timeout;
    return &tv;
}

/* Write what the socket takes now; the rest waits for EV_WRITE (bounded by the idle timeout,
 * which then also closes a client that stops reading). False when the connection is gone. */
static bool flush_out(tcs_conn_t *c) {
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);
        if (n > 0) continue;
        int e = EVUTIL_SOCKET_ERROR();
        if (n < 0 && retriable(e)) {
            if (!event_pending(c->wev, EV_WRITE, NULL)) event_add(c->wev, idle_tv());
            return true;
        }
        tcs_log(2, "<%d write: %s", c->fd, n < 0 ? evutil_socket_error_to_string(e) : "closed");
        tcs_conn_free(c);
        return false;
    }
    if (c->state == CONN_CLOSING) {
        tcs_conn_free(c);
        return false;
    }
    return true;
}

/* Parse what has arrived, answer it, send the answers: the one step after every event. */
static void run(tcs_conn_t *c) {
    for (;;) {
        process(c);
        if (!flush_out(c)) return;
        if (!c->blocked || evbuffer_get_length(c->out) > tcs_settings.out_limit / 4) return;
        /* the client has read most of its replies (the socket took them): read again, and go
         * on with the commands already waiting */
        c->blocked = false;
        event_add(c->rev, idle_tv());
    }
}

#define READ_CHUNK 16384

static void on_read(evutil_socket_t fd, short what, void *arg) {
    tcs_conn_t *c = arg;
    if (what & EV_TIMEOUT) {
        tcs_log(2, "<%d idle for %ds: closed", c->fd, tcs_settings.idle_timeout);
        tcs_conn_free(c);
        return;
    }
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(c->in, READ_CHUNK, &v, 1) < 1) {
        tcs_conn_free(c);
        return;
    }
    ssize_t n = recv(fd, v.iov_base, READ_CHUNK, 0);
    if (n > 0) {
        v.iov_len = (size_t)n;
        evbuffer_commit_space(c->in, &v, 1);
        run(c);
        return;
    }
    if (n < 0 && retriable(errno)) return;
    /* end of input (or an error): send what is already answered, then close */
    if (n == 0 && evbuffer_get_length(c->out) > 0) {
        tcs_conn_close_after_write(c);
        return;
    }
    tcs_conn_free(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    tcs_conn_t *c = arg;
    if (what & EV_TIMEOUT) {
        tcs_log(2, "<%d not reading its replies for %ds: closed", c->fd,
                tcs_settings.idle_timeout);
        tcs_conn_free(c);
        return;
    }
    if (!flush_out(c)) return;
    if (c->blocked && evbuffer_get_length(c->out) <= tcs_settings.out_limit / 4) run(c);
}

void tcs_conn_new(tcs_worker_t *w, int fd, bool is_unix) {
    tcs_conn_t *c = calloc(1, sizeof *c);
    if (c) {
        c->fd = fd;
        c->in = evbuffer_new();
        c->out = evbuffer_new();
        c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, c);
        c->wev = event_new(w->base, fd, EV_WRITE, on_write, c);
    }
    if (!c || !c->in || !c->out || !c->rev || !c->wev) {
        if (c) {
            if (c->in) evbuffer_free(c->in);
            if (c->out) evbuffer_free(c->out);
            if (c->rev) event_free(c->rev);
            if (c->wev) event_free(c->wev);
            free(c);
        }
        evutil_closesocket(fd);
        atomic_fetch_sub(&tcs_curr_conns, 1);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    c->worker = w;
    c->is_unix = is_unix;
    c->state = CONN_CMD;
    conn_link(w, c);
    event_add(c->rev, idle_tv());
    tcs_log(2, "<%d new %s client connection", fd, is_unix ? "unix" : "tcp");
}

/* ---- output ---- */

void tcs_out(tcs_conn_t *c, const void *data, size_t len) {
    evbuffer_add(c->out, data, len);
    TCS_ADD(&c->worker->counters, bytes_written, len);
}

void tcs_out_str(tcs_conn_t *c, const char *s) {
    struct evbuffer *out = c->out;
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
    struct evbuffer *out = c->out;
    if (v->pin) {
        if (evbuffer_add_reference(out, v->data, v->len, unpin_cb, v->pin) != 0)
            tc_cache_unpin(tcs_cache(), v->pin);
    } else {
        evbuffer_add(out, v->data, v->len);
    }
    TCS_ADD(&c->worker->counters, bytes_written, v->len);
}

bool tcs_out_full(tcs_conn_t *c) { return evbuffer_get_length(c->out) >= tcs_settings.out_limit; }

void tcs_conn_close_after_write(tcs_conn_t *c) {
    c->state = CONN_CLOSING;
    block_reading(c);
    if (!event_pending(c->wev, EV_WRITE, NULL)) event_add(c->wev, idle_tv());
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
    struct evbuffer *in = c->in;
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
        if (tcs_settings.verbose > 1)
            tcs_log(2, "<%p %.*s", (void *)c, (int)(len < 200 ? len : 200), line);
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
}
