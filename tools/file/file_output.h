/*
 * file_output.h -- what secmq-file shows: one line per finished file on
 * stdout, or one JSON object per event with --json; a progress bar on a
 * terminal; warnings and errors on stderr. It decides nothing about the
 * transfer or the exit code.
 */
#ifndef FILE_OUTPUT_H
#define FILE_OUTPUT_H

#include <pthread.h>
#include <stdint.h>

#include "secmq.h"

struct file_out {
    int json; /* --json: one object per event on stdout */
    int bar;  /* draw a progress bar on stderr (a terminal) */
    int recv; /* 1: the receiver ("sender" is the peer), 0: the sender */
    pthread_mutex_t lock;
    /* The bar: the file being moved, guarded by lock. */
    char name[64];
    uint64_t bytes, total, first_bytes;
    double first_t;
    int active, drawn;
    double last_draw;
};

/* Set up; bar only when stderr is a terminal and not json. */
void file_out_init(struct file_out *o, int json, int recv, int quiet);
/* One event (from the library's callback, any thread). */
void file_out_event(struct file_out *o, const secmq_file_event *ev);
/* Redraw the bar if due (main thread). */
void file_out_tick(struct file_out *o);
/* Erase the bar before exit. */
void file_out_end(struct file_out *o);

#endif /* FILE_OUTPUT_H */
