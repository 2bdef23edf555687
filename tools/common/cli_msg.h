/*
 * cli_msg.h -- the one voice the command-line tools speak with on stderr.
 *
 * Every message starts with the program name ("secmq-pub: ...") and is one
 * line. Errors obey --quiet; debug lines appear only with -d. This module
 * formats and prints; it decides nothing about exit codes.
 */
#ifndef CLI_MSG_H
#define CLI_MSG_H

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* Set the program name used as prefix (BORROWED: must outlive the program,
 * e.g. a string literal). */
void cli_msg_init(const char *progname);
/* The program name given to cli_msg_init(). */
const char *cli_progname(void);
/* --quiet: suppress errors and warnings (usage errors are still shown). */
void cli_msg_set_quiet(int quiet);
/* -d: let cli_debug() lines through. */
void cli_msg_set_debug(int debug);
int cli_msg_debug_enabled(void);

/* "prog: <message>" on stderr, unless --quiet. */
void cli_err(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "prog: warning: <message>" on stderr, unless --quiet. */
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "prog: WARNING: <message>" on stderr, always (security warnings). */
void cli_alert(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "prog: <message> (see --help)" on stderr, always. */
void cli_usage_err(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "prog: debug: <message>" on stderr when -d was given. Thread-safe. */
void cli_debug(const char *fmt, ...) CLI_PRINTF(1, 2);

#endif /* CLI_MSG_H */
