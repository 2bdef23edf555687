/*
 * fakebroker_main.c -- fakebroker.c as a program, for tests of the tools:
 * prints "port N" on stdout, serves until its standard input closes, then
 * prints one line "pub QOS PAYLOAD" per PUBLISH it read, in order, and
 * exits 0. See fakebroker.h for what it is not.
 */
#include <stdio.h>
#include <unistd.h>

#include "fakebroker.h"

int main(void)
{
    char buf[64];

    if (fb_start() != 0) {
        return 1;
    }
    printf("port %d\n", fb_port());
    fflush(stdout);
    while (read(0, buf, sizeof buf) > 0) {
    }
    fb_stop();
    for (int i = 0; i < fb_pubs(); i++) {
        fb_pub p;
        if (fb_pub_at(i, &p) == 0) {
            printf("pub %d %s\n", p.qos, p.payload);
        }
    }
    return 0;
}
