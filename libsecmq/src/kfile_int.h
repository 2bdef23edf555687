/*
 * kfile_int.h -- the keyring's file primitives: paths, bounded reads,
 * atomic writes (temporary file, fsync, rename, fsync of the directory),
 * removal, locks, and "sealed" local files that only this keyring reads.
 * Writes and removals erase the file they replace or remove (its bytes
 * overwritten with zeros; docs/SECURITY.md "Erasing keys on disk" says
 * what that does and does not guarantee). Knows nothing of identities,
 * grants or channels.
 */
#ifndef SECMQ_KFILE_INT_H
#define SECMQ_KFILE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "secmq_int.h"

/* Longest path the keyring builds. */
#define SECMQ__PATH_MAX 4096u

/* Where a keyring function puts its one-line reason (buf may be NULL). */
typedef struct secmq__kerr {
    char *buf;
    size_t len;
} secmq__kerr;

/* Write a printf-style reason into e (if any); returns code. */
int secmq__kerr_set(secmq__kerr *e, int code, const char *fmt, ...)
    SECMQ_PRINTF(3, 4);

/*
 * Join dir, a and b (b may be NULL) with '/' into buf. Returns 0, or -1
 * if the result does not fit.
 */
int secmq__kpath(char *buf, size_t len, const char *dir, const char *a,
                 const char *b);

/* Flags of secmq__kfile_read. */
#define SECMQ__KF_OPTIONAL 1u /* a missing file is SECMQ_OK, *data NULL */
#define SECMQ__KF_PRIVATE 2u  /* refuse a file group/others may access */
#define SECMQ__KF_SECRET 4u   /* read into sodium_malloc memory */

/*
 * Read the file at path whole, at most max bytes, into a new buffer with
 * a NUL byte after the data (not counted in *len). With SECMQ__KF_SECRET
 * the buffer is sodium_malloc'd; release it with secmq__kfile_release.
 * A file that path stops naming while it is read (replaced or removed by
 * another process, which then overwrites it with zeros) is read again
 * from path, up to 4 times. Returns SECMQ_OK, SECMQ_E_KEYRING (missing,
 * too large, too open, replaced on every try: the reason names path),
 * SECMQ_E_IO, SECMQ_E_NOMEM.
 */
int secmq__kfile_read(const char *path, size_t max, unsigned flags,
                      unsigned char **data, size_t *len, secmq__kerr *e);
/* Free what secmq__kfile_read returned (same flags); wipes secrets. */
void secmq__kfile_release(unsigned char *data, size_t len, unsigned flags);

/*
 * Erasure, shared by secmq__kfile_write and secmq__kfile_remove: the
 * regular file path names before the call is opened first and kept open;
 * once the new state is durable (the rename or unlink done and the
 * directory fsync'd) its whole length is overwritten with zeros through
 * that descriptor and fdatasync'd. A crash at any point leaves the old
 * file or the new state, never zeros under the name. The old file is
 * erased even when other hard links to it exist (they show the zeros): a
 * second name for old key material is exactly what erasure must not
 * leave behind, and the keyring cannot tell a backup from a leftover
 * (back a keyring up by copying, not by hard links). A symbolic link or a
 * non-regular file at path is never opened nor erased: the keyring never
 * reads through one, so what it points at is not a keyring file.
 *
 * An erase that fails does not undo or hold up the operation: the new
 * content is in place (or the file is gone) and SECMQ_E_IO is returned
 * with a reason that says so and why the old bytes may remain ("...:
 * replaced, but its old content could not be overwritten (...)"), so the
 * caller's error path reports it. Files larger than 64 MiB (no keyring
 * file is) are not overwritten and fail so (EFBIG).
 */

/*
 * Replace path atomically with len bytes of data, file mode mode, then
 * erase the file it replaced (above). Returns SECMQ_OK or SECMQ_E_IO: the
 * new content is at path when the reason names a failed directory sync
 * ("cannot sync directory": the old file is then not erased, since a
 * crash could still bring it back) or a failed erase ("replaced, but");
 * for any other reason path is left as it was. The temporary file of a
 * failed write is overwritten before it is removed.
 */
int secmq__kfile_write(const char *path, const void *data, size_t len,
                       unsigned mode, secmq__kerr *e);

/*
 * Create path with O_EXCL (mode 0600) holding data, fsync it and its
 * directory. Returns SECMQ_OK, SECMQ_E_KEYRING (exists), SECMQ_E_IO (what
 * was written is overwritten and path removed).
 */
int secmq__kfile_create(const char *path, const void *data, size_t len,
                        secmq__kerr *e);

/* fsync the directory holding path (a rename there is then durable).
 * SECMQ_OK or SECMQ_E_IO. */
int secmq__kfile_sync_parent(const char *path, secmq__kerr *e);

/*
 * Remove path if it exists, fsync its directory, then erase the removed
 * file (above). Returns SECMQ_OK (also when there was no such file) or
 * SECMQ_E_IO: "cannot remove" (path left as it was), "cannot sync
 * directory" (removed, not erased) or "removed, but its old content could
 * not be overwritten".
 */
int secmq__kfile_remove(const char *path, secmq__kerr *e);

/*
 * Check that the keyring directory dir is a directory that neither group
 * nor others may access (mode 0700 or stricter). A dir that does not exist
 * passes (the caller names what is missing). Returns SECMQ_OK,
 * SECMQ_E_KEYRING (not a directory, or too open: the reason names dir, its
 * mode and the chmod that fixes it) or SECMQ_E_IO.
 */
int secmq__kfile_check_dir(const char *dir, secmq__kerr *e);

/* mkdir path 0700; an existing directory is fine. SECMQ_OK or _E_IO. */
int secmq__kfile_mkdir(const char *path, secmq__kerr *e);

/*
 * flock path (created 0600 when create is 1): exclusive or shared,
 * blocking or not. *fd receives the descriptor (close it to unlock); with
 * create 0 and no such file, *fd is -1 and SECMQ_OK is returned.
 * Returns SECMQ_OK, SECMQ_E_STATE (non-blocking and held elsewhere),
 * SECMQ_E_IO.
 */
int secmq__kfile_lock(const char *path, int exclusive, int nonblock, int create,
                      int *fd, secmq__kerr *e);

/*
 * Sealed local files: "SECMQLF1" || nonce || AEAD(key, payload,
 * AD = "SECMQLF1" || kind). kind names what the file is ("seq", "owned",
 * ...), so one cannot be passed off as another.
 * secmq__kfile_seal_write returns SECMQ_OK, SECMQ_E_IO or SECMQ_E_NOMEM.
 */
int secmq__kfile_seal_write(const char *path, const char *kind,
                            const unsigned char *key,
                            const unsigned char *payload, size_t len,
                            secmq__kerr *e);
/*
 * Read and open a sealed local file (at most max payload bytes). *payload
 * is sodium_malloc'd (sodium_free it); with optional 1 a missing file
 * gives SECMQ_OK with *payload NULL. Returns SECMQ_OK, SECMQ_E_KEYRING
 * (malformed or tampered: the reason names path), SECMQ_E_IO,
 * SECMQ_E_NOMEM.
 */
int secmq__kfile_seal_read(const char *path, const char *kind,
                           const unsigned char *key, size_t max, int optional,
                           unsigned char **payload, size_t *len,
                           secmq__kerr *e);

/* Unix time now, in ms and in µs. */
uint64_t secmq__unix_ms(void);
uint64_t secmq__unix_us(void);

/* Lowercase hex of n bytes into out (2n + 1 bytes). Returns out. */
char *secmq__hex(char *out, const unsigned char *b, size_t n);

#endif /* SECMQ_KFILE_INT_H */
