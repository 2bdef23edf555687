/*
 * pub_payload.h -- reading secmq-pub's message of -f FILE or -s.
 */
#ifndef PUB_PAYLOAD_H
#define PUB_PAYLOAD_H

#include <stddef.h>

/* The largest payload MQTT can carry (remaining length limit). */
#define PUB_MAX_PAYLOAD 268435455u

/*
 * pub_read_all -- read fd to its end into a fresh buffer (*out, owned by
 * the caller, length in *outlen). what names the source in messages.
 * Returns 0, or -1 after printing an error naming what (unreadable, out of
 * memory, larger than PUB_MAX_PAYLOAD).
 */
int pub_read_all(int fd, const char *what, unsigned char **out, size_t *outlen);

#endif /* PUB_PAYLOAD_H */
