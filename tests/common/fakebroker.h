/*
 * fakebroker.h -- a minimal MQTT 3.1.1 broker on a thread of the test, for
 * what no real broker here does: it answers every QoS 1 and every QoS 2
 * PUBLISH with PUBACK, as RabbitMQ does (it has no QoS 2). Plain TCP on
 * 127.0.0.1, one connection at a time; it records what it was sent.
 * Not a broker: no subscriptions, no sessions, no retained messages.
 */
#ifndef FAKEBROKER_H
#define FAKEBROKER_H

#include <stddef.h>

#include <secmq.h>

/* Publishes recorded at most (later ones are answered, not recorded). */
#define FB_MAX_PUBS 256

/* One PUBLISH the broker read. */
typedef struct fb_pub {
    int qos;
    char payload[64]; /* the first bytes, NUL-terminated */
} fb_pub;

/* Listen on a free loopback port and serve on a thread: 0, or -1 (said
 * on stderr). One fake broker per process. */
int fb_start(void);
/* Stop the thread and close the socket. */
void fb_stop(void);
/* The port it listens on. */
int fb_port(void);
/* Connections accepted so far. */
int fb_accepted(void);
/* PUBLISH packets read so far, and of those at QoS 2. */
int fb_pubs(void);
int fb_pubs_qos2(void);
/* Copy of the i-th PUBLISH read (0-based): 0, or -1 if there is none. */
int fb_pub_at(int i, fb_pub *out);
/* A client configuration for it: plain TCP to 127.0.0.1:fb_port(), the
 * given client id (BORROWED, kept in cfg). */
void fb_config(secmq_config *cfg, const char *client_id);

#endif /* FAKEBROKER_H */
