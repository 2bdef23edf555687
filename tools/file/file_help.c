/*
 * file_help.c -- the --help texts of secmq-file (send, recv and the
 * common tail). Only text: options are parsed in secmq-file.c.
 */
#include <stdio.h>

#include "cli_options.h"
#include "file_help.h"
#include "secmq.h"

/* ------------------------------------------------------------------------ */
/* Help                                                                     */
/* ------------------------------------------------------------------------ */

void file_usage_top(void)
{
    printf("secmq-file %s -- send files end-to-end encrypted and resumable "
           "over MQTT\n\n"
           "Usage: secmq-file send [options] -t TOPIC FILE...\n"
           "       secmq-file recv [options] -t TOPIC -o DIR [-C COUNT]\n"
           "       secmq-file send --help | secmq-file recv --help\n"
           "       secmq-file --version\n",
           secmq_version());
}

static void help_common_tail(void)
{
    fputs("\nBoth sides need --keyring DIR: the manifest (name, size, hash, "
          "per-file key)\n"
          "is sealed and signed through the keyring's channel for TOPIC/m; "
          "the chunks on\n"
          "TOPIC/c/<file id> are encrypted with the per-file key and signed "
          "by the\n"
          "sender; the receiver's requests on TOPIC/r/<file id> are sealed by "
          "the\n"
          "receiver. Keys (docs/PROTOCOL.md section 8.1), with sam sending to "
          "alice:\n"
          "  secmq-keys channel create --keyring sam --files files \\\n"
          "      --publisher sam.pub --subscriber alice.pub --out g\n"
          "  secmq-keys import --keyring alice sam.pub g/files/alice.grant "
          "g/requests/alice.grant\n"
          "(the channels files/# and files/r/#). Either side exits 1 at once "
          "when its\nkeyring lacks its part of them, or when the broker "
          "refuses a subscription.\n"
          "The broker's ACL: the sender writes TOPIC/m and TOPIC/c/# and "
          "reads TOPIC/r/#;\n"
          "receivers read TOPIC/m and TOPIC/c/# and write TOPIC/r/#.\n"
          "To resume after a restart of either side or of the broker, give "
          "each side a\n"
          "fixed client id and a persistent session (-i ID -c), and the "
          "sender --state.\n\n",
          stdout);
    cli_help_common(stdout);
}

void file_send_help(void)
{
    file_usage_top();
    fputs("\nsend: announce and send each FILE, one after the other, and wait "
          "until a\nreceiver confirms it (verified and in place).\n\n"
          " -t, --topic TOPIC   the transfer topic (no wildcards)\n"
          " --name NAME         announce the (single) FILE as NAME (default: "
          "its last\n"
          "                     path component; receivers keep only a last "
          "component).\n"
          "                     A name receivers would refuse (see recv "
          "--help: not\n"
          "                     UTF-8, control or format characters, a "
          "leading '.') is\n"
          "                     refused here, before anything is sent\n"
          " --state FILE        keep the progress (which chunks the broker "
          "acknowledged,\n"
          "                     and the per-file key, mode 0600) in this "
          "sqlite file: a\n"
          "                     new run with the same FILE (same size and "
          "time) resumes\n"
          "                     the same transfer. Without it nothing is "
          "resumed.\n"
          " --outbox FILE       send through a durable outbox (sqlite, mode "
          "0600): "
          "the\n"
          "                     manifest and the chunks in flight (at most "
          "--window of\n"
          "                     them, sealed: ciphertext only) are committed "
          "to FILE\n"
          "                     before they are sent. After a crash the next "
          "run with the\n"
          "                     same FILE sends them first, in order; a broker "
          "that is away\n"
          "                     at the start is retried while they wait. The "
          "progress stays\n"
          "                     in --state (default FILE.xfer).\n"
          " --chunk-size BYTES  plaintext bytes per chunk, 1024..16777216 "
          "(default 64K);\n"
          "                     chunk + 138 must stay below the broker's "
          "maximum packet size\n"
          " --window N          chunks awaiting the broker's PUBACK at once "
          "(default 16)\n"
          " --rate BYTES        publish at most BYTES of chunks per second "
          "(K, M, G\n"
          "                     suffixes; default: no limit)\n"
          " --receivers N       a file is finished when N receivers confirmed "
          "it (default 1)\n"
          " --retry SEC         repeat the manifest after SEC seconds without "
          "an answer\n"
          "                     (default 5). A receiver answering 'busy' "
          "(all its transfer\n"
          "                     slots taken) is not a refusal: the file is "
          "announced again,\n"
          "                     waiting twice as long each time (up to 60 "
          "s), until it is\n"
          "                     taken or -W expires\n"
          " -W, --timeout SEC   give up after SEC seconds (the state is kept "
          "for the next\n"
          "                     run); exit 27\n"
          " --json              one JSON object per event on stdout instead "
          "of the result\n"
          "                     lines and the progress bar\n"
          "Output: one line per delivered file on stdout: NAME, SIZE, "
          "blake2b-256:HASH and\n"
          "the receiver's name, separated by tabs; a progress bar (bytes, %, "
          "rate, ETA)\non stderr when it is a terminal.\n"
          "Exit status: 0 every file delivered; 1 an error (usage, keyring "
          "without the\nchannels of TOPIC, connection, a subscription the "
          "broker refused, unreadable\nfile, state file, interrupted); 3 a "
          "file "
          "was refused by a receiver\nor failed; 27 -W expired; N the "
          "broker refused the connection (CONNACK code).\n",
          stdout);
    help_common_tail();
}

void file_recv_help(void)
{
    file_usage_top();
    fputs("\nrecv: receive the files announced on TOPIC into DIR.\n\n"
          " -t, --topic TOPIC   the transfer topic (no wildcards)\n"
          " -o, --output DIR    an existing directory; nothing is ever "
          "written outside it.\n"
          "                     A file arrives as DIR/.secmq-part-<id> and is "
          "renamed to its\n"
          "                     name (the last component of the announced "
          "name; names that\n"
          "                     are empty, start with '.', are not UTF-8, or "
          "hold control\n"
          "                     characters, invisible format characters "
          "such as a\n"
          "                     right-to-left override, or '\\' are refused) "
          "once its\n"
          "                     hash is verified; an existing file is never "
          "replaced:\n"
          "                     NAME-1.EXT, NAME-2.EXT... are used\n"
          " -C, --count N       exit after N files finished (received, "
          "refused or failed)\n"
          " --max-size BYTES    refuse larger files (default 4294967296; "
          "K, M, G suffixes)\n"
          " --reserve BYTES     refuse a file that would leave less free disk "
          "space than\n"
          "                     this (default 16M)\n"
          " --state FILE        the progress database (default "
          "DIR/.secmq-recv.db)\n"
          " --retry SEC         ask for missing chunks after SEC seconds "
          "without one\n"
          "                     (default 3, doubling up to 60)\n"
          " --stall-timeout SEC give up a file after SEC seconds without a "
          "new chunk\n"
          "                     (default 600): its partial file is removed "
          "and its slot\n"
          "                     freed; a sender that comes back starts it "
          "over. At most 16\n"
          "                     files are in progress at once; a further "
          "one is answered\n"
          "                     'busy' (the sender tries again later) and "
          "logged\n"
          " -W, --timeout SEC   give up after SEC seconds; exit 27\n"
          " --json              one JSON object per event on stdout\n"
          "Output: one line per received file on stdout: NAME (in DIR), "
          "SIZE,\n"
          "blake2b-256:HASH (check with `b2sum -l 256`) and the verified "
          "sender, separated\n"
          "by tabs. A write error (disk full, file size limit) ends that "
          "file: the partial\n"
          "file is removed and the sender told.\n"
          "Exit status: 0 SIGINT/SIGTERM, or -C files received; 1 an error "
          "(usage,\nkeyring without the channels of TOPIC, a subscription the "
          "broker refused,\nan answer that cannot be sealed, state file); 3 "
          "-C files finished and one\nwas refused or failed (not 'busy' "
          "answers, nor given-up stalled files);\n27 -W expired; "
          "N the broker refused the connection (CONNACK code).\n",
          stdout);
    help_common_tail();
}
