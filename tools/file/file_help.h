/*
 * file_help.h -- the --help texts of secmq-file (file_help.c).
 */
#ifndef SECMQ_FILE_HELP_H
#define SECMQ_FILE_HELP_H

/* "secmq-file VERSION -- ..." and the usage lines, on stdout. */
void file_usage_top(void);
/* secmq-file send --help / recv --help, on stdout. */
void file_send_help(void);
void file_recv_help(void);

#endif
