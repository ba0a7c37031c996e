/*
 * Listening sockets and the accept loop. Runs on the main thread's event base: each accepted
 * connection is counted against -c and handed to a worker (worker.c); one over the limit gets
 * memcached's "ERROR Too many open connections" and is closed.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/listener.h>
#include <event2/util.h>

#include "listener.h"
#include "server.h"

#define MAX_LISTENERS 16

static struct evconnlistener *listeners[MAX_LISTENERS];
static int nlisteners;
static bool unix_created;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg) {
    bool is_unix = arg != NULL;
    atomic_fetch_add(&tcs_total_conns, 1);
    if (atomic_load(&tcs_curr_conns) >= (uint_fast64_t)tcs_settings.maxconns) {
        static const char msg[] = "ERROR Too many open connections\r\n";
        ssize_t w = write(fd, msg, sizeof msg - 1);
        (void)w;
        atomic_fetch_add(&tcs_rejected_conns, 1);
        evutil_closesocket(fd);
        return;
    }
    if (!is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    atomic_fetch_add(&tcs_curr_conns, 1);
    if (tcs_workers_dispatch(fd, is_unix) != 0) atomic_fetch_sub(&tcs_curr_conns, 1);
}

static void reenable(evutil_socket_t fd, short what, void *l) { evconnlistener_enable(l); }

static void on_accept_error(struct evconnlistener *l, void *arg) {
    int e = EVUTIL_SOCKET_ERROR();
    tcs_log(1, "accept: %s", evutil_socket_error_to_string(e));
    /* EMFILE and the like: back off a little rather than spin. */
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        evconnlistener_disable(l);
        struct timeval tv = {0, 100000};
        event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT, reenable, l, &tv);
    }
}

static int add_listener(struct event_base *base, int fd, bool is_unix, char *err, size_t cap) {
    if (nlisteners == MAX_LISTENERS) {
        snprintf(err, cap, "too many listening addresses");
        close(fd);
        return -1;
    }
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    struct evconnlistener *l = evconnlistener_new(base, on_accept, is_unix ? (void *)1 : NULL,
                                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                                  tcs_settings.backlog, fd);
    if (!l) {
        snprintf(err, cap, "cannot listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    listeners[nlisteners++] = l;
    return 0;
}

static int open_tcp(struct event_base *base, const char *host, char *err, size_t cap) {
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_ADDRCONFIG,
                             .ai_socktype = SOCK_STREAM,
                             .ai_family = AF_UNSPEC};
    struct addrinfo *res, *ai;
    char port[16];
    snprintf(port, sizeof port, "%d", tcs_settings.port);
    /* "[::1]" as well as "::1" */
    char buf[256];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof buf) {
        memcpy(buf, host + 1, hl - 2);
        buf[hl - 2] = '\0';
        host = buf;
    }
    int e = getaddrinfo(host, port, &hints, &res);
    if (e) {
        snprintf(err, cap, "-l %s: %s", host, gai_strerror(e));
        return -1;
    }
    int opened = 0;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            snprintf(err, cap, "bind %s:%d: %s", host, tcs_settings.port, strerror(errno));
            close(fd);
            continue;
        }
        if (listen(fd, tcs_settings.backlog) != 0) {
            snprintf(err, cap, "listen %s:%d: %s", host, tcs_settings.port, strerror(errno));
            close(fd);
            continue;
        }
        if (add_listener(base, fd, false, err, cap) != 0) {
            freeaddrinfo(res);
            return -1;
        }
        opened++;
    }
    freeaddrinfo(res);
    return opened ? 0 : -1;
}

static int open_unix(struct event_base *base, const char *path, char *err, size_t cap) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, cap, "-s %s: path too long", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    /* A stale socket file from a previous run is replaced; anything else is an error. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, cap, "-s %s: exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return -1;
    }
    /* Created with the final mode: no window in which others could connect. */
    mode_t old = umask((mode_t)(~tcs_settings.access_mask & 0777));
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc != 0 || chmod(path, (mode_t)tcs_settings.access_mask) != 0) {
        snprintf(err, cap, "bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    unix_created = true;
    if (listen(fd, tcs_settings.backlog) != 0) {
        snprintf(err, cap, "listen %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return add_listener(base, fd, true, err, cap);
}

int tcs_listeners_open(struct event_base *base, char *err, size_t cap) {
    if (tcs_settings.socketpath && open_unix(base, tcs_settings.socketpath, err, cap) != 0) {
        tcs_listeners_close();
        return -1;
    }
    if (tcs_settings.port > 0) {
        char *list = strdup(tcs_settings.listen), *save = NULL;
        for (char *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
            while (*h == ' ') h++;
            if (*h && open_tcp(base, h, err, cap) != 0) {
                free(list);
                tcs_listeners_close();
                return -1;
            }
        }
        free(list);
    }
    if (nlisteners == 0) {
        snprintf(err, cap, "no address to listen on");
        return -1;
    }
    return 0;
}

void tcs_listeners_close(void) {
    for (int i = 0; i < nlisteners; i++) evconnlistener_free(listeners[i]);
    nlisteners = 0;
    if (unix_created && tcs_settings.socketpath) unlink(tcs_settings.socketpath);
    unix_created = false;
}
