/*
 * sub_output.h -- how secmq-sub prints one received message.
 *
 * The payload alone, "topic payload" (-v), or a -F format string with
 * mosquitto_sub's %, @ and \ sequences, plus the sender of a sealed
 * message (%S, and in %j), marked unverified unless a signature proved it.
 * Which messages to print (filters, counts) is secmq-sub's decision, not this
 * module's.
 */
#ifndef SUB_OUTPUT_H
#define SUB_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include "secmq.h"

struct sub_output {
    const char *format; /* -F, or NULL */
    int verbose;        /* -v: "topic payload" */
    int eol;            /* 1 unless -N: end every message with a newline */
    int keyring;        /* 1 with --keyring: %j says who sent and how */
};

/*
 * sub_format_check -- validate a -F format before connecting.
 * Returns 0, or -1 with a one-line reason in err (errlen bytes).
 */
int sub_format_check(const char *format, char *err, size_t errlen);

/*
 * sub_output_print -- print msg (BORROWED) to out as o says, then flush,
 * so a reader of a pipe sees each message at once. Returns 0, or -1 if
 * writing failed (errno tells why).
 */
int sub_output_print(const struct sub_output *o, const secmq_message *msg,
                     FILE *out);

#endif /* SUB_OUTPUT_H */
