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

/*
 * Which of two valid filters is the more specific (PROTOCOL.md §4.1):
 * compared level by level from the left, the first level where they
 * differ decides: a literal level beats +, + beats #, and a filter that
 * has no more levels beats # ("a/b" over "a/b/#"). > 0 if a is more
 * specific, < 0 if b is, 0 only for the same filter. Two different
 * filters that both match one topic never compare equal; for filters
 * that do not, the result is still a total order (differing literal
 * levels are ordered by their bytes) but means nothing.
 */
int secmq__filter_cmp_specific(const char *a, size_t alen, const char *b,
                               size_t blen);

#endif /* SECMQ_TOPICFILTER_INT_H */
