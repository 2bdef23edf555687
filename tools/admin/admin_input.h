/*
 * admin_input.h -- how secmq-admin takes a new password: from a file, from
 * stdin, or typed twice on the terminal without echo.
 *
 * The password only ever lives in sodium_malloc'd memory; hashing it and
 * storing the hash are the commands' business, not this module's.
 */
#ifndef SECMQ_ADMIN_INPUT_H
#define SECMQ_ADMIN_INPUT_H

#include <stddef.h>

/*
 * The new password into *out, length in *len: the first line of file
 * (BORROWED; "-" for stdin), or with file NULL typed twice on the terminal
 * when stdin is one, else the first line of stdin; without the "\n" or
 * "\r\n", at most SECMQ_PW_MAX bytes, never empty. *out is sodium_malloc'd
 * and OWNED by the caller, who frees it with sodium_free (which wipes it).
 * Returns 0, or ADMIN_EXIT_FAIL after saying why (then *out is NULL).
 */
int admin_password_read(const char *file, char **out, size_t *len);

#endif /* SECMQ_ADMIN_INPUT_H */
