/*
 * Worker threads: each runs its own event base and owns the connections handed to it. The
 * accept thread passes a socket by writing {fd, is_unix} into the worker's notify pipe (as
 * memcached does); a write of -1 asks the worker to close its connections and stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "server.h"

typedef struct handoff {
    int fd;
    int is_unix;
} handoff_t;

static tcs_worker_t *workers;
static pthread_t *threads;
static int nworkers;
static atomic_uint next_worker;

tcs_worker_t *tcs_worker(int i) { return &workers[i]; }
int tcs_worker_count(void) { return nworkers; }

static void on_notify(evutil_socket_t fd, short what, void *arg) {
    tcs_worker_t *w = arg;
    handoff_t h;
    for (;;) {
        ssize_t n = read(fd, &h, sizeof h);
        if (n != (ssize_t)sizeof h) return; /* EAGAIN: drained (writes of 8 bytes are atomic) */
        if (h.fd < 0) {                     /* stop */
            while (w->conns) tcs_conn_free(w->conns);
            event_base_loopbreak(w->base);
            return;
        }
        tcs_conn_new(w, h.fd, h.is_unix != 0);
    }
}

static void *worker_main(void *arg) {
    tcs_worker_t *w = arg;
    event_base_dispatch(w->base);
    while (w->conns) tcs_conn_free(w->conns);
    return NULL;
}

int tcs_workers_start(int n) {
    workers = calloc((size_t)n, sizeof *workers);
    threads = calloc((size_t)n, sizeof *threads);
    if (!workers || !threads) return -1;
    for (int i = 0; i < n; i++) {
        tcs_worker_t *w = &workers[i];
        w->id = i;
        if (pipe2(w->notify_fd, O_CLOEXEC) != 0) return -1;
        fcntl(w->notify_fd[0], F_SETFL, O_NONBLOCK);
        struct event_config *cfg = event_config_new();
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK); /* one thread per base */
        w->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
        if (!w->base) return -1;
        w->notify_ev = event_new(w->base, w->notify_fd[0], EV_READ | EV_PERSIST, on_notify, w);
        event_add(w->notify_ev, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) {
            nworkers = i;
            tcs_workers_stop();
            return -1;
        }
        nworkers = i + 1;
    }
    return 0;
}

int tcs_workers_dispatch(int fd, bool is_unix) {
    unsigned i = atomic_fetch_add(&next_worker, 1) % (unsigned)nworkers;
    handoff_t h = {fd, is_unix};
    if (write(workers[i].notify_fd[1], &h, sizeof h) != (ssize_t)sizeof h) {
        close(fd);
        return -1;
    }
    return 0;
}

void tcs_workers_stop(void) {
    handoff_t stop = {-1, 0};
    for (int i = 0; i < nworkers; i++) {
        ssize_t n = write(workers[i].notify_fd[1], &stop, sizeof stop);
        (void)n;
    }
    for (int i = 0; i < nworkers; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < nworkers; i++) {
        event_free(workers[i].notify_ev);
        event_base_free(workers[i].base);
        close(workers[i].notify_fd[0]);
        close(workers[i].notify_fd[1]);
    }
    free(workers);
    free(threads);
    workers = NULL;
    threads = NULL;
    nworkers = 0;
}
