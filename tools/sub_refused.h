/*
 * sub_refused.h -- what secmq-sub says about a message that did not open,
 * its counts of opened and refused messages and receipts, and MQTT topic
 * matching.
 *
 * One stderr line per refused message: the topic (escaped), what the
 * reason means and, when a subscription or channel filter explains it, that
 * the broker changed the topic (RabbitMQ delivers `a.b` as `a/b`). Which
 * messages to print is secmq-sub's decision, not this module's.
 */
#ifndef SUB_REFUSED_H
#define SUB_REFUSED_H

#include <stddef.h>

#include "secmq.h"

/* 1 if topic matches the valid MQTT topic filter filter, else 0. */
int sub_topic_matches(const char *filter, const char *topic);

/*
 * sub_refused_report -- warn on stderr that the message on topic (BORROWED)
 * did not open for reason (a secmq_open_reason), the reason's name last in
 * brackets. subs (nsubs, BORROWED) are the subscribed filters, kr
 * (BORROWED, may be NULL) the keyring whose channel filters are looked at
 * too: a filter with a '.' that does not match topic, but would with every
 * '.' read as '/', is named as the topic the broker changed.
 */
void sub_refused_report(const char *topic, int reason, const char *const *subs,
                        size_t nsubs, const secmq_keyring *kr);

/*
 * sub_report_counts -- with -d (cli_msg_debug_enabled), and a keyring kr
 * (BORROWED; NULL: nothing), one debug line with how many sealed messages
 * client c opened and why the others did not, then the receipts it sent
 * and the copies it receipted again (secmq_client_receipt_stats).
 */
void sub_report_counts(secmq_client *c, const secmq_keyring *kr);

#endif /* SUB_REFUSED_H */
