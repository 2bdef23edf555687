/*
 * client_qos2.c -- telling a broker without QoS 2 from a broken link.
 *
 * RabbitMQ answers a QoS 2 PUBLISH with PUBACK; libmosquitto calls that a
 * protocol error and drops the link, and would otherwise leave the message
 * waiting forever. This file recognises that sequence from what client.c
 * passes on (libmosquitto's log lines, the lost link) and turns it into
 * SECMQ_E_QOS_UNSUPPORTED with a message naming the cause and the fix. It
 * does not see libmosquitto itself (client.c does).
 */
#include <string.h>

#include "client_int.h"

#define QOS2_WHY                                                               \
    "the broker answered QoS 2 with PUBACK (RabbitMQ does not support QoS "    \
    "2); publish at QoS 1"

void secmq__qos2_note_log(secmq_client *c, const char *line)
{
    size_t idlen = strlen(c->client_id);
    const char *rest;

    /* libmosquitto logs "Client <id> received <PACKET> ..." for every
     * packet it reads, before handling it. */
    if (strncmp(line, "Client ", 7) != 0 ||
        strncmp(line + 7, c->client_id, idlen) != 0) {
        return;
    }
    rest = line + 7 + idlen;
    if (strncmp(rest, " received ", 10) != 0) {
        return;
    }
    atomic_store(&c->qos2_last_puback,
                 strncmp(rest + 10, "PUBACK ", 7) == 0 ? 1 : 0);
}

int secmq__qos2_check_lost(secmq_client *c)
{
    /* libmosquitto 2.0 fails a PUBACK with a protocol error only when its
     * packet id names a message in flight at another QoS: after QoS 2
     * publishes, that is a broker answering QoS 2 with PUBACK. */
    if (atomic_load(&c->qos2_sent) == 0 ||
        atomic_load(&c->qos2_last_puback) == 0) {
        return SECMQ_OK;
    }
    atomic_store(&c->qos2_refused, 1);
    return secmq__err_set(&c->err, SECMQ_E_QOS_UNSUPPORTED, "%s", QOS2_WHY);
}

int secmq__qos2_before_publish(secmq_client *c, int qos)
{
    if (qos != 2) {
        return SECMQ_OK;
    }
    if (atomic_load(&c->qos2_refused)) {
        return secmq__err_set(&c->err, SECMQ_E_QOS_UNSUPPORTED,
                              "QoS 2 refused: %s", QOS2_WHY);
    }
    /* Before the publish goes out, so its answer is seen in the log. */
    secmq__client_mosq_logging(c);
    atomic_store(&c->qos2_sent, 1);
    return SECMQ_OK;
}
