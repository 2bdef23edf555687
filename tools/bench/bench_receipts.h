/*
 * bench_receipts.h -- secmq-bench --suite receipts (bench_receipts.c): a
 * sender's msgs/s through its outbox on a channel with end-to-end
 * receipts against one without, in one run, and the rows it holds.
 */
#ifndef SECMQ_BENCH_RECEIPTS_H
#define SECMQ_BENCH_RECEIPTS_H

/* Takes the arguments after "--suite receipts" (argv[0] is "receipts");
 * returns the exit status. */
int bench_receipts_main(int argc, char **argv);

#endif /* SECMQ_BENCH_RECEIPTS_H */
