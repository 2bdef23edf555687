/*
 * grantcraft.h -- grant bodies encoded and signed by hand from
 * docs/PROTOCOL.md §5, without the codec's rules: what a careless or
 * hostile owner could sign, for the tests of the refusals. Test tooling.
 */
#ifndef GRANTCRAFT_H
#define GRANTCRAFT_H

#include <stddef.h>

#include <secmq.h>

/*
 * tc_grant_craft -- write g (and, when r is not NULL and r->topic is not
 * NULL, r's receipt fields: a SECMQGB2 body) into b (cap bytes), signed
 * with owner_sk. Returns the length; aborts when it does not fit.
 */
size_t tc_grant_craft(unsigned char *b, size_t cap, const secmq_grant_fields *g,
                      const secmq_grant_receipts *r,
                      const unsigned char *owner_sk);

#endif
