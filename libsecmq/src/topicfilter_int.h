/*
 * topicfilter_int.h -- MQTT topic names and topic filters as the keyring
 * needs them: validity, matching, and how specific a filter is. Not for
 * the broker plugin's ACL matching (a filter against a filter).
 */
#ifndef SECMQ_TOPICFILTER_INT_H
#define SECMQ_TOPICFILTER_INT_H

#include <stddef.h>

/* 1 if t (len bytes) is a topic name: 1..65535 bytes, no NUL, + or #. */
int secmq__topic_valid(const char *t, size_t len);

/* 1 if f (len bytes) is a topic filter: 1..65535 bytes, no NUL, + a whole
 * level, # a whole last level. */
int secmq__filter_valid(const char *f, size_t len);

/* 1 if filter f (valid) matches topic t (valid), MQTT 3.1.1 §4.7
 * (wildcards at the first level do not match topics starting with $). */
int secmq__filter_match(const char *f, size_t flen, const char *t, size_t tlen);

/* Number of levels of f that are neither + nor #. */
unsigned secmq__filter_literals(const char *f, size_t flen);

#endif /* SECMQ_TOPICFILTER_INT_H */
