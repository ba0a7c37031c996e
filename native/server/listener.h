/* Listening sockets (TCP and unix) and the accept loop on the main event base. */
#ifndef TC_SERVER_LISTENER_H
#define TC_SERVER_LISTENER_H
#include <stddef.h>
#include <event2/event.h>

/* Open every socket the settings name and accept on base. 0, or -1 with a message in err. */
int tcs_listeners_open(struct event_base *base, char *err, size_t cap);
/* Stop accepting, close the sockets, remove the unix socket file. */
void tcs_listeners_close(void);
#endif
