/*
 * bench_filecodec.h -- the in-process crypto cost of a file chunk in each
 * file-transfer protocol (bench_filecodec.c), for `secmq-bench --suite
 * file`. Not the transfer itself (bench_file.c times that).
 */
#ifndef BENCH_FILECODEC_H
#define BENCH_FILECODEC_H

/* Microseconds of CPU per 64 KiB chunk, the least of three rounds over a
 * 16 MiB file held in memory. */
struct codec_cost {
    double v1_send, v1_recv; /* whole-file hash + signed envelope */
    double v2_send, v2_recv; /* chunk tree and tags + tag check + v2 chunk */
};

/* Measures c. Returns 0, or -1 when the codecs fail (a bug). */
int bench_filecodec(struct codec_cost *c);

#endif
