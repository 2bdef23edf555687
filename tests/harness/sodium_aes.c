/*
 * sodium_aes.c -- prints 1 if libsodium offers AES-256-GCM on the CPU this
 * program runs on, 0 if not: the question libsecmq asks before it hands
 * wolfSSL's AES-GCM to libsodium (tls.c), asked by a program of the
 * build's own architecture (a cross build's runs through qemu-user), so a
 * test expects the TLS suite the library will pick there. Test-only:
 * never installed.
 */
#include <sodium.h>
#include <stdio.h>

int main(void)
{
    if (sodium_init() < 0) {
        fputs("sodium_aes: sodium_init failed\n", stderr);
        return 1;
    }
    printf("%d\n", crypto_aead_aes256gcm_is_available() ? 1 : 0);
    return 0;
}
