/*
 * app.c -- the smallest program built against an installed secmq, by
 * tests/install/test_install.py: once with CMake's find_package(secmq) and
 * once with pkg-config. It prints what the header and the library say, and
 * makes (never connects) a client, so the library and its dependencies load.
 */
#include <stdio.h>
#include <string.h>

#include <secmq.h>

int main(void)
{
    secmq_config cfg;
    secmq_client *c = NULL;
    int rc;

    printf("header %s\n", SECMQ_VERSION_STRING);
    printf("version %s\n", secmq_version());
    printf("strerror %s\n", secmq_strerror(SECMQ_E_TLS_CA));
    secmq_config_init(&cfg);
    rc = secmq_client_new(&c, &cfg, NULL);
    printf("client_new %d\n", rc);
    if (rc == SECMQ_OK) {
        printf("id_prefix %.6s\n", secmq_client_id(c));
    }
    secmq_client_free(c);
    return rc == SECMQ_OK ? 0 : 1;
}
