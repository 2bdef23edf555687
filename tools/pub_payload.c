/*
 * pub_payload.c -- secmq-pub reads a whole message (-f FILE, -s) into
 * memory, bounded by what MQTT can carry. Nothing else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_msg.h"
#include "pub_payload.h"

int pub_read_all(int fd, const char *what, unsigned char **out, size_t *outlen)
{
    size_t cap = 65536, len = 0;
    unsigned char *buf = malloc(cap);

    if (buf == NULL) {
        cli_err("out of memory");
        return -1;
    }
    for (;;) {
        ssize_t n;

        if (len == cap) {
            unsigned char *bigger;

            if (cap > PUB_MAX_PAYLOAD) {
                cli_err("%s is larger than MQTT's limit of %u bytes", what,
                        PUB_MAX_PAYLOAD);
                free(buf);
                return -1;
            }
            bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                cli_err("out of memory reading %s", what);
                free(buf);
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            cli_err("cannot read %s: %s", what, strerror(errno));
            free(buf);
            return -1;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > PUB_MAX_PAYLOAD) {
        cli_err("%s is larger than MQTT's limit of %u bytes", what,
                PUB_MAX_PAYLOAD);
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = len;
    return 0;
}
