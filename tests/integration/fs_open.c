/*
 * fs_open.c -- a helper program of test_forward_secrecy.py: what a keyring
 * directory (a stolen copy of a member's, a member added later) can open
 * of envelopes captured on the wire.
 *
 * Usage: secmq_fs_open KEYRING_DIR TOPIC < envelopes
 * The input has one envelope per line, in hex. For each line one line is
 * printed: "ok HEX" (HEX: the plaintext, in hex) when
 * secmq_keyring_open_msg() opened it, else the name of the reason it gave
 * (secmq_open_reason_name: "key_expired", "unknown_key", ...). Exit
 * status 0 when every line was answered, 2 for a usage error, a keyring
 * that does not open, or an input line that is not hex. Not a test by
 * itself: the Python test says what each answer must be.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

/* Longest envelope read (bytes), and the line that carries it in hex. */
#define MAX_ENV (64u * 1024u)
#define MAX_LINE (2u * MAX_ENV + 2u)
/* Lines read at most: the test captures a few hundred. */
#define MAX_LINES 100000u

static int answer(secmq_keyring *kr, const char *topic, const char *hex,
                  unsigned char *env, unsigned char *pt, char *pthex)
{
    size_t len = 0, ptlen = 0;
    const char *end = NULL;
    int reason = SECMQ_OPEN_OK, rc;

    if (sodium_hex2bin(env, MAX_ENV, hex, strlen(hex), NULL, &len, &end) != 0 ||
        end == NULL || *end != '\0' || len == 0) {
        return -1;
    }
    rc = secmq_keyring_open_msg(kr, topic, env, len, pt, MAX_ENV, &ptlen, NULL,
                                &reason);
    if (rc == SECMQ_OK) {
        sodium_bin2hex(pthex, 2 * MAX_ENV + 1, pt, ptlen);
        printf("ok %s\n", pthex);
        sodium_memzero(pt, ptlen);
        return 0;
    }
    if (rc == SECMQ_E_OPEN || rc == SECMQ_E_NO_KEY) {
        printf("%s\n", secmq_open_reason_name(reason));
        return 0;
    }
    printf("error %s\n", secmq_strerror(rc));
    return 0;
}

int main(int argc, char **argv)
{
    secmq_keyring *kr = NULL;
    char err[512] = "";
    char *line = NULL, *pthex = NULL;
    unsigned char *env = NULL, *pt = NULL;
    int code = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s KEYRING_DIR TOPIC < hex envelopes\n",
                argv[0]);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "fs_open: libsodium does not initialise\n");
        return 2;
    }
    if (secmq_keyring_open(&kr, argv[1], err, sizeof err) != SECMQ_OK) {
        fprintf(stderr, "fs_open: %s\n", err);
        return 2;
    }
    line = malloc(MAX_LINE + 1);
    pthex = malloc(2 * MAX_ENV + 1);
    env = malloc(MAX_ENV);
    pt = malloc(MAX_ENV);
    if (line == NULL || pthex == NULL || env == NULL || pt == NULL) {
        fprintf(stderr, "fs_open: out of memory\n");
        code = 2;
        goto out;
    }
    for (unsigned n = 0; n < MAX_LINES; n++) {
        size_t l;
        if (fgets(line, (int)MAX_LINE + 1, stdin) == NULL) {
            break;
        }
        l = strcspn(line, "\r\n");
        line[l] = '\0';
        if (l == 0) {
            continue;
        }
        if (answer(kr, argv[2], line, env, pt, pthex) != 0) {
            fprintf(stderr, "fs_open: line %u is not a hex envelope\n", n + 1);
            code = 2;
            break;
        }
    }
    if (fflush(stdout) != 0) {
        code = 2;
    }
out:
    secmq_keyring_free(kr);
    free(line);
    free(pthex);
    free(env);
    free(pt);
    return code;
}
