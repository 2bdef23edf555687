/*
 * xferform.c -- the one check of a protocol 2 file chunk that needs no
 * key (secmq_file_chunk_v2_form): its first bytes and its topic. Kept
 * apart from xfertree.c so that the broker plugin, which compiles in the
 * envelope code rather than linking libsecmq, can compile it in as well.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "xfer_int.h"

int secmq_file_chunk_v2_form(const char *topic, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    char hex[2 * SECMQ_ID_BYTES + 1];
    const char *slash;
    size_t tlen;

    if (topic == NULL || buf == NULL ||
        len < SECMQ_FILE_CHUNK2_HEADER + SECMQ_ENV_TAG_BYTES ||
        p[0] != SECMQ__CHUNK2_VERSION || p[1] != SECMQ__CHUNK2_KIND) {
        return 0;
    }
    tlen = strlen(topic);
    if (tlen < 3 + 2 * SECMQ_FILE_ID_BYTES + 1 ||
        strncmp(topic + tlen - 2 * SECMQ_FILE_ID_BYTES - 3, "/c/", 3) != 0) {
        return 0;
    }
    slash = topic + tlen - 2 * SECMQ_FILE_ID_BYTES;
    for (size_t i = 0; i < 2 * SECMQ_FILE_ID_BYTES; i++) {
        char ch = slash[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
    }
    sodium_bin2hex(hex, sizeof hex, p + SECMQ__CHUNK2_OFF_KEY_ID,
                   SECMQ_ID_BYTES);
    return memcmp(slash, hex, 2 * SECMQ_ID_BYTES) == 0; /* not secret */
}
