/*
 * cli_config.h -- the files the tools read options and passwords from.
 *
 * Finds the default config file, refuses files that others could change,
 * reads them into guarded memory and splits config lines into option and
 * value. What an option means is cli_options.c's business.
 */
#ifndef CLI_CONFIG_H
#define CLI_CONFIG_H

#include <stddef.h>

/* Longest config or password file read, in bytes. */
#define CLI_CONFIG_MAX_BYTES 65536

/*
 * Called for each option line of a config file with the option's name and
 * its value ("" when the line has none); both are BORROWED and wiped after
 * the call. Returns 0, 1 when the value was a secret (a password), or -1
 * with a one-line reason in err (errlen bytes).
 */
typedef int (*cli_config_line_fn)(void *ctx, const char *name,
                                  const char *value, char *err, size_t errlen);

/*
 * cli_config_default_path -- $XDG_CONFIG_HOME/secmq/client.conf, or
 * $HOME/.config/secmq/client.conf when XDG_CONFIG_HOME is unset or not
 * absolute. Writes buf (len bytes). Returns 0, or -1 if there is no home
 * directory or the path does not fit.
 */
int cli_config_default_path(char *buf, size_t len);

/*
 * cli_config_load -- read the config file path and call fn for each line
 * that is neither blank nor a # comment. The file must be owned by the user
 * or root and not be writable by group or others; one that sets a password
 * (-P/--pw) must also give others no access at all, as a password file
 * (cli_config_read_password). A missing file is fine unless must_exist. Returns
 * 0, or -1 after printing one error line naming the file (and the line, for a
 * bad line).
 */
int cli_config_load(const char *path, int must_exist, cli_config_line_fn fn,
                    void *ctx);

/*
 * cli_config_read_password -- the first line of the password file path,
 * which must be owned by the user or root, not writable by group and not
 * accessible to others. secmq-admin --password-file uses it too, so both
 * judge a password file alike. *out receives guarded memory (release with
 * sodium_free(), which wipes it) holding *len bytes and a NUL. Returns 0,
 * or -1 with a one-line reason in err.
 */
int cli_config_read_password(const char *path, char **out, size_t *len,
                             char *err, size_t errlen);

#endif /* CLI_CONFIG_H */
