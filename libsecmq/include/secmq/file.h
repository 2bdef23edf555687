/*
 * secmq/file.h -- encrypted, resumable file transfer (docs/PROTOCOL.md §8).
 *
 * A sender announces each file with a sealed, signed manifest (name, size,
 * chunk size and count, the root of the file's chunk tree, a random
 * per-file key) on TOPIC/m, then publishes the file as chunks on
 * TOPIC/c/<file id>, each one encrypted with a key derived from the
 * per-file key and carrying the proof of its place in the tree (protocol
 * 2; protocol 1: signed chunks and a whole-file BLAKE2b-256); receivers
 * verify each chunk, write it at its offset into a partial file, keep
 * their progress in sqlite, ask for what is missing on TOPIC/r/<file id>
 * and rename the file into place. Both sides resume after a restart.
 * Included by secmq.h; include that, not this file.
 *
 * Two layers:
 *  - the codecs (manifest, request, chunk, name checks): pure functions,
 *    no I/O, usable by other implementations' tests and by fuzzers;
 *  - secmq_file_sender and secmq_file_receiver, which drive a transfer
 *    over a secmq_client that the application owns.
 *
 * How the objects meet the client: the application keeps its callbacks and
 * hands the transfer what concerns it:
 *     on_connect  -> secmq_file_{sender,receiver}_handle_connect()
 *     on_message  -> secmq_file_{sender,receiver}_handle_message()
 *     on_publish  -> secmq_file_{sender,receiver}_handle_publish()
 * and calls secmq_file_{sender,receiver}_tick() a few times a second (from
 * any thread) for the timers: manifests and requests are repeated when the
 * other side stays silent. An application that shares the client and
 * tracks its own publishes uses the _v2 handlers, which say whether a
 * packet id (or outbox row) was the transfer's, and before freeing a
 * transfer takes the ids still awaiting an answer (..._awaiting()), so
 * their late acks are not taken for its own.
 *
 * The client must have NO keyring set (secmq_client_set_keyring(c, NULL),
 * the default): the transfer seals and opens its manifests and requests
 * with the keyring given here, and its chunks are not channel envelopes,
 * which a client keyring would refuse. Use a client of its own for
 * transfers when the application seals other topics through its client.
 *
 * Threading: every function of one sender or receiver may be called from
 * any thread; calls are serialised by an internal mutex. The event
 * callback runs inside those calls, with that mutex held: it must not call
 * back into the same sender or receiver, and should be quick.
 */
#ifndef SECMQ_FILE_H
#define SECMQ_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifndef SECMQ_H
#error "include <secmq.h>, not <secmq/file.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SECMQ_FILE_ID_BYTES 16u  /* random file id */
#define SECMQ_FILE_KEY_BYTES 32u /* per-file key (secret) */
#define SECMQ_FILE_HASH_BYTES                                                  \
    32u                          /* v1: BLAKE2b-256 of the whole file;         \
                                    v2: the root of its chunk tree */
#define SECMQ_FILE_NAME_MAX 255u /* longest announced name, in bytes */
/* Chunk sizes a manifest may give (plaintext bytes per chunk). */
#define SECMQ_FILE_CHUNK_MIN 1024u
#define SECMQ_FILE_CHUNK_MAX (16u * 1024u * 1024u)
#define SECMQ_FILE_CHUNK_DEFAULT 65536u
/* Most chunks one file may have (so a progress bitmap is at most 2 MiB). */
#define SECMQ_FILE_CHUNKS_MAX (1u << 24)
/* Bytes a v1 chunk adds to its plaintext: a signed envelope (§4). */
#define SECMQ_FILE_CHUNK_OVERHEAD SECMQ_ENV_OVERHEAD_SIGNED
/*
 * File-transfer protocol revisions (§8). Receivers take both; senders
 * send 2 unless told otherwise (secmq_file_send_opts.protocol).
 */
#define SECMQ_FILE_PROTOCOL_1 1
#define SECMQ_FILE_PROTOCOL_2 2
/* v2 chunk (§8.3.2): header, then ciphertext and tag, then the proof of
 * at most SECMQ_FILE_PROOF_MAX node hashes of SECMQ_FILE_NODE_BYTES. */
#define SECMQ_FILE_CHUNK2_HEADER 38u
#define SECMQ_FILE_NODE_BYTES 32u
#define SECMQ_FILE_PROOF_MAX 24u /* ceil(log2(SECMQ_FILE_CHUNKS_MAX)) */
/* The most a v2 chunk adds to its plaintext. */
#define SECMQ_FILE_CHUNK2_OVERHEAD                                             \
    (SECMQ_FILE_CHUNK2_HEADER + SECMQ_ENV_TAG_BYTES +                          \
     SECMQ_FILE_NODE_BYTES * SECMQ_FILE_PROOF_MAX)
/* Encoded manifest: fixed part and the longest one. */
#define SECMQ_FILE_MANIFEST_FIXED 146u
#define SECMQ_FILE_MANIFEST_MAX                                                \
    (SECMQ_FILE_MANIFEST_FIXED + SECMQ_FILE_NAME_MAX)
/* Ranges one request may carry, and its longest encoding. */
#define SECMQ_FILE_RANGES_MAX 512u
#define SECMQ_FILE_REQUEST_FIXED 28u
#define SECMQ_FILE_REQUEST_MAX                                                 \
    (SECMQ_FILE_REQUEST_FIXED + 8u * SECMQ_FILE_RANGES_MAX)
/*
 * Longest TOPIC a transfer accepts: TOPIC/c/<32 hex digits> must stay
 * within SECMQ_TOPIC_MAX.
 */
#define SECMQ_FILE_TOPIC_MAX (SECMQ_TOPIC_MAX - 35u)

/* ------------------------------------------------------------------------ */
/* Codecs (pure: no I/O, no allocation)                                     */
/* ------------------------------------------------------------------------ */

/* The decoded manifest (§8.2). key is a secret: wipe it after use. */
typedef struct secmq_file_manifest {
    unsigned char file_id[SECMQ_FILE_ID_BYTES];
    unsigned char key[SECMQ_FILE_KEY_BYTES];
    unsigned char sender_pk[SECMQ_SIGN_PK_BYTES]; /* signs the chunks */
    uint64_t size;                                /* file size in bytes */
    uint32_t chunk_size;
    uint32_t chunk_count; /* ceil(size / chunk_size) */
    unsigned char hash[SECMQ_FILE_HASH_BYTES];
    uint64_t mtime_ms; /* the file's modification time at the sender */
    char name[SECMQ_FILE_NAME_MAX + 1]; /* as announced: NOT checked for
                                           use as a file name, see
                                           secmq_file_name_check() */
    int version; /* SECMQ_FILE_PROTOCOL_1 ("SECMQFM1": hash is the whole
                    file's BLAKE2b-256, chunks are signed envelopes) or
                    _2 ("SECMQFM2": hash is the root of the chunk tree,
                    chunks carry proofs); 0 encodes as 1 */
} secmq_file_manifest;

/*
 * secmq_file_manifest_encode -- the §8.2 bytes of m into out (cap bytes),
 * length in *out_len. m->name must be 1..SECMQ_FILE_NAME_MAX bytes (any
 * bytes but NUL: the receiver judges names), chunk_size within
 * SECMQ_FILE_CHUNK_MIN..MAX and chunk_count consistent with size;
 * m->version picks the magic (0 or 1: "SECMQFM1", 2: "SECMQFM2").
 * Returns SECMQ_OK, SECMQ_E_INVAL (bad field) or SECMQ_E_OVERSIZE (cap).
 */
SECMQ_API int secmq_file_manifest_encode(unsigned char *out, size_t cap,
                                         size_t *out_len,
                                         const secmq_file_manifest *m);

/*
 * secmq_file_manifest_decode -- parse and check §8.2 bytes (buf, len,
 * BORROWED) into m: magic ("SECMQFM1" or "SECMQFM2", which sets
 * m->version: check it before using m->hash), exact length, chunk size
 * range, chunk count =
 * ceil(size / chunk size) and at most SECMQ_FILE_CHUNKS_MAX, a name of
 * 1..255 bytes without NUL. The name is not judged as a file name.
 * Returns SECMQ_OK or SECMQ_E_INVAL (m is then wiped).
 */
SECMQ_API int secmq_file_manifest_decode(secmq_file_manifest *m,
                                         const void *buf,
                                         size_t len) SECMQ_NODISCARD;

/* What a receiver says about a file (§8.4). */
typedef enum secmq_file_request_kind {
    SECMQ_FILE_REQ_NEED = 1,   /* send these chunks (again) */
    SECMQ_FILE_REQ_DONE = 2,   /* the file arrived and verified */
    SECMQ_FILE_REQ_REFUSED = 3 /* the receiver will not take the file */
} secmq_file_request_kind;

/*
 * Why a file was refused or failed (request reason byte, and the reason of
 * SECMQ_FILE_EV_REFUSED / _FAILED events). Numbers never change.
 */
typedef enum secmq_file_reason {
    SECMQ_FILE_R_NONE = 0,
    SECMQ_FILE_R_TOO_LARGE = 1, /* over the receiver's size limit */
    SECMQ_FILE_R_NO_SPACE = 2,  /* not enough room on the receiver's disk */
    SECMQ_FILE_R_BAD_NAME = 3,  /* the name cannot be used as a file name */
    SECMQ_FILE_R_IO = 4,        /* a write failed (ENOSPC, EFBIG, EIO...) */
    SECMQ_FILE_R_HASH = 5,      /* v1: the whole-file hash did not match */
    SECMQ_FILE_R_BUSY = 6,      /* too many transfers at once */
    SECMQ_FILE_R_COUNT = 7
} secmq_file_reason;

/* secmq_file_reason_name -- "too_large", "no_space", ...; never NULL. */
SECMQ_API const char *secmq_file_reason_name(int reason);

/* A run of chunks [first, first + count). */
typedef struct secmq_file_range {
    uint32_t first;
    uint32_t count;
} secmq_file_range;

/* A decoded request. ranges points into the decoded bytes. */
typedef struct secmq_file_request {
    unsigned char file_id[SECMQ_FILE_ID_BYTES];
    int kind;   /* secmq_file_request_kind */
    int reason; /* secmq_file_reason, REFUSED only */
    size_t n_ranges;
    const unsigned char *ranges; /* 8 * n_ranges bytes: u32 first, u32 count
                                    (read with secmq_file_request_range) */
} secmq_file_request;

/*
 * secmq_file_request_encode -- §8.4 bytes into out (cap bytes): kind,
 * reason (REFUSED), n ranges (NEED: 1..SECMQ_FILE_RANGES_MAX, each count
 * >= 1; other kinds: 0). Returns SECMQ_OK, SECMQ_E_INVAL, SECMQ_E_OVERSIZE.
 */
SECMQ_API int
secmq_file_request_encode(unsigned char *out, size_t cap, size_t *out_len,
                          const unsigned char *file_id, int kind, int reason,
                          const secmq_file_range *ranges, size_t n);

/*
 * secmq_file_request_decode -- parse §8.4 bytes (BORROWED; r->ranges
 * points into them). Range bounds against the file are the caller's
 * business. Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_file_request_decode(secmq_file_request *r, const void *buf,
                                        size_t len) SECMQ_NODISCARD;

/* secmq_file_request_range -- range i (< r->n_ranges) of a request. */
SECMQ_API secmq_file_range secmq_file_request_range(const secmq_file_request *r,
                                                    size_t i);

/*
 * secmq_file_name_check -- the file name a receiver uses for an announced
 * name (§8.6): the part after the last '/', which must be 1..255 bytes,
 * not start with '.', be valid UTF-8 (no overlong form, surrogate, code
 * point above U+10FFFF or truncated sequence), and contain no control
 * character (U+0000..U+001F, U+007F..U+009F), no format character
 * (Unicode 15.0 category Cf, listed in §8.6: bidirectional overrides and
 * isolates, zero-width characters, the soft hyphen, U+FEFF, ...) and no
 * '\\'.
 * out (cap >= SECMQ_FILE_NAME_MAX + 1) receives it, NUL-terminated.
 * Returns SECMQ_OK or SECMQ_E_INVAL (refused; out is empty).
 */
SECMQ_API int secmq_file_name_check(char *out, size_t cap,
                                    const char *announced);

/*
 * secmq_file_chunk_topic -- "TOPIC/c/<file id in lower-case hex>" into out
 * (cap bytes). Likewise _request_topic ("TOPIC/r/<hex>") and
 * _manifest_topic ("TOPIC/m"). topic is 1..SECMQ_FILE_TOPIC_MAX bytes
 * without wildcards. Return SECMQ_OK, SECMQ_E_INVAL or SECMQ_E_OVERSIZE.
 */
SECMQ_API int secmq_file_chunk_topic(char *out, size_t cap, const char *topic,
                                     const unsigned char *file_id);
SECMQ_API int secmq_file_request_topic(char *out, size_t cap, const char *topic,
                                       const unsigned char *file_id);
SECMQ_API int secmq_file_manifest_topic(char *out, size_t cap,
                                        const char *topic);

/*
 * secmq_file_chunk_seal -- chunk index of file m (§8.3): a signed envelope
 * under m->key with key id = the first 8 bytes of the file id and seq =
 * index, bound to chunk_topic (from secmq_file_chunk_topic), signed with
 * sender_sk (SECMQ_SIGN_SK_BYTES, the secret key of m->sender_pk).
 * pt (len bytes) is the chunk's plaintext: chunk_size bytes, the last
 * chunk the rest. out (cap >= len + SECMQ_FILE_CHUNK_OVERHEAD).
 * Returns SECMQ_OK, SECMQ_E_INVAL (index or length wrong for m),
 * SECMQ_E_OVERSIZE (cap).
 */
SECMQ_API int
secmq_file_chunk_seal(unsigned char *out, size_t cap, size_t *out_len,
                      const secmq_file_manifest *m, uint32_t index,
                      const unsigned char *sender_sk, const char *chunk_topic,
                      const void *pt, size_t len);

/*
 * secmq_file_chunk_open -- check and decrypt a chunk (env, len, BORROWED)
 * that arrived on chunk_topic for file m: envelope form, signed mode, key
 * id and sender id of m, index < chunk_count, tag, signature by
 * m->sender_pk, exact plaintext length for that index.
 * out (cap >= the chunk size) receives the plaintext, *index its index.
 * Returns SECMQ_OPEN_OK or a secmq_open_reason (MALFORMED for a wrong
 * form, key id, sender id, index or length; BAD_TAG; BAD_SIGNATURE);
 * on failure out is wiped.
 */
SECMQ_API int secmq_file_chunk_open(unsigned char *out, size_t cap,
                                    size_t *out_len, uint32_t *index,
                                    const secmq_file_manifest *m,
                                    const char *chunk_topic, const void *env,
                                    size_t len) SECMQ_NODISCARD;

/*
 * The chunk tree of protocol 2 (§8.3.1). All pure; nodes are
 * SECMQ_FILE_NODE_BYTES each.
 *
 * secmq_file_tree_key -- the tree key K_tree of a file key (secret: wipe
 * it after use).
 */
SECMQ_API void secmq_file_tree_key(unsigned char ktree[SECMQ_KEY_BYTES],
                                   const unsigned char *file_key);

/* secmq_file_tree_leaf -- the leaf of chunk index with plaintext pt (len
 * bytes, BORROWED) under ktree into out. */
SECMQ_API void secmq_file_tree_leaf(unsigned char out[SECMQ_FILE_NODE_BYTES],
                                    const unsigned char *ktree, uint32_t index,
                                    const void *pt, size_t len);

/* secmq_file_tree_nodes -- how many nodes the whole tree of count leaves
 * has (every level, leaves first; 0 for count 0). At most 2 * count +
 * SECMQ_FILE_PROOF_MAX. */
SECMQ_API size_t secmq_file_tree_nodes(uint32_t count);

/*
 * secmq_file_tree_build -- nodes (secmq_file_tree_nodes(count) nodes,
 * the caller's) holds the count leaves first; fills the levels above and
 * writes the root into root (for count 0: the empty root). count at most
 * SECMQ_FILE_CHUNKS_MAX. Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_file_tree_build(unsigned char *nodes,
                                    const unsigned char *ktree, uint32_t count,
                                    unsigned char root[SECMQ_FILE_NODE_BYTES]);

/* secmq_file_proof_len -- node hashes in the proof of chunk index of a
 * file of count chunks (0 when index >= count); at most
 * SECMQ_FILE_PROOF_MAX. */
SECMQ_API unsigned secmq_file_proof_len(uint32_t count, uint32_t index);

/*
 * secmq_file_chunk_seal_v2 -- chunk index of file m (m->version 2) in the
 * §8.3.2 form: pt (len bytes: the chunk's whole plaintext) encrypted under
 * the file's chunk key, bound to chunk_topic, followed by its proof taken
 * from nodes (the built tree of m, see secmq_file_tree_build). nonce
 * (SECMQ_ENV_NONCE_BYTES) NULL = random; fixed ones are for test vectors
 * only. The chunk's leaf is not checked against nodes here: a sender
 * compares secmq_file_tree_leaf() with nodes[index] first.
 * out (cap >= len + SECMQ_FILE_CHUNK2_OVERHEAD is always enough).
 * Returns SECMQ_OK, SECMQ_E_INVAL (version, index or length wrong for m),
 * SECMQ_E_OVERSIZE (cap).
 */
SECMQ_API int secmq_file_chunk_seal_v2(unsigned char *out, size_t cap,
                                       size_t *out_len,
                                       const secmq_file_manifest *m,
                                       uint32_t index,
                                       const unsigned char *nodes,
                                       const char *chunk_topic, const void *pt,
                                       size_t len, const unsigned char *nonce);

/*
 * secmq_file_chunk_open_v2 -- check and decrypt a v2 chunk (buf, len,
 * BORROWED) that arrived on chunk_topic for file m (m->version 2), in the
 * order of §8.3.2: version byte (SECMQ_OPEN_VERSION), kind, key id, index
 * < chunk_count and the exact length for that index and its proof
 * (SECMQ_OPEN_MALFORMED), the AEAD (SECMQ_OPEN_BAD_TAG), the leaf of the
 * plaintext through the proof to m->hash (SECMQ_OPEN_BAD_PROOF).
 * out (cap >= the chunk size) receives the plaintext, *index its index.
 * Returns SECMQ_OPEN_OK or that reason; on failure out is wiped.
 */
SECMQ_API int secmq_file_chunk_open_v2(unsigned char *out, size_t cap,
                                       size_t *out_len, uint32_t *index,
                                       const secmq_file_manifest *m,
                                       const char *chunk_topic, const void *buf,
                                       size_t len) SECMQ_NODISCARD;

/*
 * secmq_file_chunk_v2_form -- what a broker can check of a v2 chunk (buf,
 * len, BORROWED) without the file key: the version byte 0x02 and kind
 * 'C', at least a header and a tag, and a topic that ends in "/c/"
 * followed by 32 lower-case hex digits whose first 16 spell the chunk's
 * key id. Says nothing about who made it: receivers decide that with the
 * proof (secmq_file_chunk_open_v2). 1 if so, else 0 (also for NULL).
 */
SECMQ_API int secmq_file_chunk_v2_form(const char *topic, const void *buf,
                                       size_t len);

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum secmq_file_event_kind {
    SECMQ_FILE_EV_START = 1,    /* sender: manifest published (new or
                                   resumed); receiver: file accepted */
    SECMQ_FILE_EV_PROGRESS = 2, /* more bytes: sender, acknowledged by the
                                   broker (with an outbox: committed to
                                   it); receiver, written */
    SECMQ_FILE_EV_DONE = 3,     /* sender: a receiver confirmed the file;
                                   receiver: verified, in its final place */
    SECMQ_FILE_EV_REFUSED = 4,  /* sender: a receiver refused the file;
                                   receiver: it refused a manifest. With
                                   reason SECMQ_FILE_R_BUSY not final:
                                   the receiver had no free slot, the
                                   sender keeps the file and announces it
                                   again later (backing off) */
    SECMQ_FILE_EV_FAILED = 5,   /* the transfer ended with an error */
    SECMQ_FILE_EV_REJECTED = 6, /* a manifest, chunk or request did not
                                   verify and was dropped (reason: a
                                   secmq_open_reason) */
    SECMQ_FILE_EV_REQUEST = 7,  /* sender: a receiver asked for chunks
                                   again; receiver: it asked */
    SECMQ_FILE_EV_EXPIRED = 8   /* receiver: a transfer in progress got no
                                   chunk for stall_ms and was given up
                                   (partial file removed, forgotten: a
                                   repeated manifest starts it over) */
} secmq_file_event_kind;

/* One event. Every pointer is valid during the callback only. */
typedef struct secmq_file_event {
    int kind; /* secmq_file_event_kind */
    unsigned char file_id[SECMQ_FILE_ID_BYTES];
    const char *name; /* the announced name (REJECTED: may be NULL) */
    const char *path; /* sender: the local file; receiver: the final
                         path (DONE), else NULL */
    const char *peer; /* sender: the receiver's name (DONE, REFUSED,
                         REQUEST); receiver: the sender's name */
    uint64_t size;    /* file size */
    uint64_t bytes;   /* bytes acknowledged (sender) / held (receiver) */
    uint32_t chunks;  /* REQUEST: chunks asked for; else chunks done */
    uint32_t chunk_count;
    const unsigned char *hash; /* SECMQ_FILE_HASH_BYTES (DONE), else NULL:
                                  the manifest's hash field (protocol 1:
                                  BLAKE2b-256 of the file; 2: the root
                                  of its keyed chunk tree) */
    int reason;                /* REFUSED, FAILED: secmq_file_reason;
                                  REJECTED: secmq_open_reason */
    int rc;                    /* FAILED: the SECMQ_E_* code */
    const char *detail;        /* one sentence for people, never NULL */
    int protocol; /* the file's SECMQ_FILE_PROTOCOL_*, 0 when no file is
                     known (some REJECTED events) */
} secmq_file_event;

/* Called for every event; user as given at creation. */
typedef void (*secmq_file_event_cb)(void *user, const secmq_file_event *ev);

/* ------------------------------------------------------------------------ */
/* Sender                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct secmq_file_sender secmq_file_sender;

/* Sender settings; secmq_file_send_opts_init() fills the defaults. */
typedef struct secmq_file_send_opts {
    size_t size;         /* sizeof(secmq_file_send_opts); set by _init */
    uint32_t chunk_size; /* default SECMQ_FILE_CHUNK_DEFAULT; keep chunk +
                            138 below the broker's maximum packet size */
    unsigned window;     /* chunks published and not yet acknowledged by
                            the broker, 1..1024; default 16 */
    int retry_ms;        /* re-publish the manifest after this long without
                            an answer from a receiver; default 5000 */
    const char *state;   /* sqlite file of the sender's progress (BORROWED,
                            copied); NULL = memory only: no resume */
    unsigned receivers;  /* DONE answers that finish a file; default 1 */
    uint64_t max_rate;   /* chunk bytes published per second at most
                            (a slow or metered uplink); 0 = no limit */
    int protocol;        /* SECMQ_FILE_PROTOCOL_2 (default: chunks carry
                            a proof to the tree root the signed manifest
                            holds) or _1 (signed chunks and a whole-file
                            hash, for receivers older than protocol 2,
                            which refuse a v2 manifest as malformed) */
} secmq_file_send_opts;

/* secmq_file_send_opts_init -- the defaults above. Never fails. */
SECMQ_API void secmq_file_send_opts_init(secmq_file_send_opts *o);

/*
 * secmq_file_sender_new -- a sender of files on topic (BORROWED, copied).
 * c and kr are BORROWED and must outlive the sender; kr must make this
 * identity a publisher of a channel covering topic/m and a member of one
 * covering topic/r/+ (docs/PROTOCOL.md §8.1). cb (may be NULL) gets the
 * events, with user.
 * Returns SECMQ_OK, SECMQ_E_INVAL (bad topic or option), SECMQ_E_NO_KEY
 * (kr cannot seal topic/m, holds no channel covering topic/r/<id>, or
 * the one that does lists no publisher but this identity, so no receiver
 * could answer: err names the identity and the missing channel),
 * SECMQ_E_IO (state file: cannot open it, it
 * is not a secmq transfer state file, or another process uses it),
 * SECMQ_E_NOMEM. On failure *out is NULL and err (errlen bytes, may be
 * NULL) holds a one-line reason.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_file_sender_new(secmq_file_sender **out, secmq_client *c,
                      secmq_keyring *kr, const char *topic,
                      const secmq_file_send_opts *o, secmq_file_event_cb cb,
                      void *user, char *err, size_t errlen);

/*
 * secmq_file_sender_free -- forget the sender (state already on disk stays
 * for the next run). Messages already handed to the client are still sent
 * by it. NULL is a no-op.
 */
SECMQ_API void secmq_file_sender_free(secmq_file_sender *s);

/*
 * secmq_file_sender_add -- queue the file at path (BORROWED) under name
 * (BORROWED; NULL = the last component of path). Reads the whole file
 * once, on the calling thread (protocol 2: with up to 3 more threads that
 * it starts and joins before it returns, one per online CPU, while each
 * has 32 chunks or more and their read buffers fit in 4 MiB), to build
 * its chunk tree (protocol 2, kept in memory: about 80 bytes per chunk
 * with the tags it checks chunks against when it sends them) or hash it
 * (protocol 1). If the
 * state file holds an unfinished transfer of the same path, size,
 * modification time and protocol (and, in protocol 2, the rebuilt tree has
 * its root), it is resumed (same file id and key: receivers keep what they
 * have);
 * otherwise a new transfer starts. Files are sent one after the other.
 * Returns SECMQ_OK, SECMQ_E_INVAL (not a regular file, a name that
 * secmq_file_name_check() refuses, as receivers would: the detail says
 * why; file too large for SECMQ_FILE_CHUNKS_MAX chunks), SECMQ_E_IO
 * (cannot read it, state not saved; see secmq_file_sender_errmsg),
 * SECMQ_E_NOMEM.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_file_sender_add(secmq_file_sender *s, const char *path, const char *name);

/*
 * secmq_file_sender_handle_connect -- call from on_connect after every
 * accepted CONNACK: subscribes to topic/r/+ (QoS 1) and re-publishes the
 * current manifest. Returns SECMQ_OK or the client's error.
 */
SECMQ_API int secmq_file_sender_handle_connect(secmq_file_sender *s,
                                               int session_present);

/*
 * secmq_file_sender_handle_message -- call from on_message with every
 * message (BORROWED). Returns 1 if it was a request for this sender
 * (consumed, also when it did not open), 0 if it is not the sender's.
 */
SECMQ_API int secmq_file_sender_handle_message(secmq_file_sender *s,
                                               const secmq_message *m);

/*
 * secmq_file_sender_handle_subscribe -- call from on_subscribe (granted
 * BORROWED, count entries). A refusal (0x80) of the subscription to
 * TOPIC/r/+ ends the sender: the next secmq_file_sender_tick() returns
 * SECMQ_E_AUTH and secmq_file_sender_errmsg() names the topic.
 */
SECMQ_API void secmq_file_sender_handle_subscribe(secmq_file_sender *s, int mid,
                                                  int count,
                                                  const int *granted);

/* secmq_file_sender_handle_publish -- call from on_publish. */
SECMQ_API void secmq_file_sender_handle_publish(secmq_file_sender *s, int mid,
                                                int rc);

/*
 * secmq_file_sender_handle_publish_v2 -- secmq_file_sender_handle_publish,
 * telling whose the packet id was: 1 when mid was one of the sender's
 * publishes (a chunk in flight, one of a finished file's last window of
 * chunks, or one of the last 16 manifests), 0 when it is another of the
 * client's (the application's, to report on its own).
 * Always 0 with an outbox (the sender's rows have no packet ids there).
 */
SECMQ_API int secmq_file_sender_handle_publish_v2(secmq_file_sender *s, int mid,
                                                  int rc);

/*
 * With a durable outbox. When the client already has an outbox
 * (secmq_client_set_outbox, secmq/outbox.h) at secmq_file_sender_new(),
 * the sender publishes its manifests and chunks through it, as ASYNC QoS 1
 * rows (the sealed chunk: ciphertext only), and the application forwards
 *     on_durable   -> secmq_file_sender_handle_durable()
 *     on_delivered -> secmq_file_sender_handle_delivered()
 * (on_publish is not called for outbox rows). Then:
 *  - a chunk counts as acknowledged (PROGRESS events, the state file) once
 *    its row is committed (on_durable, or on_delivered with SECMQ_OK):
 *    the outbox delivers it, also after a crash and restart of the
 *    sender, before anything new;
 *  - the window is the number of chunk rows not yet delivered, counting
 *    the rows an earlier run left in the outbox: the outbox never holds
 *    more than the window of chunks (plus manifests), so it stays small
 *    whatever the file size; the file itself stays where it is;
 *  - publishing needs no connection: a sender started while the broker is
 *    away commits its manifest and the first window of chunks, and goes
 *    on once connected.
 * Which chunks are done and the per-file key stay in the state file
 * (secmq_file_send_opts.state), which an outbox does not replace.
 */

/*
 * secmq_file_sender_handle_durable -- call from on_durable (the outbox's
 * commit thread) with the row id and rc. Rows that are not the sender's
 * are ignored. Without an outbox: a no-op.
 */
SECMQ_API void secmq_file_sender_handle_durable(secmq_file_sender *s,
                                                uint64_t id, int rc);

/*
 * secmq_file_sender_handle_delivered -- call from on_delivered with the
 * row id and rc: frees a window slot and counts the chunk as acknowledged
 * if on_durable has not (rc SECMQ_OK), or fails the file (the broker or
 * MQTT refused the chunk). Without an outbox: a no-op.
 */
SECMQ_API void secmq_file_sender_handle_delivered(secmq_file_sender *s,
                                                  uint64_t id, int rc);

/*
 * secmq_file_sender_handle_delivered_v2 -- the same, telling whose the row
 * was: 1 for one of this run's chunks (those of a finished file too, as
 * above) or of its last 16 manifests, 0 for any other row (the application's,
 * or one an earlier run left in the file, which cannot be told apart). Without
 * an outbox: 0.
 */
SECMQ_API int secmq_file_sender_handle_delivered_v2(secmq_file_sender *s,
                                                    uint64_t id, int rc);

/*
 * secmq_file_sender_awaiting -- the sender's publishes still awaiting the
 * broker's answer (chunks in flight, also of files already finished: a
 * receiver's DONE may come first; the last 16 manifests), so that an
 * application freeing the sender can still tell their late acks from its
 * own. Writes at most cap entries: without an outbox the packet ids into
 * mids (rows gets 0), with one the row ids into rows (mids gets 0); either
 * may be NULL. Returns how many there are (may exceed cap); 0 for NULL.
 * At most twice the window plus 16.
 */
SECMQ_API size_t secmq_file_sender_awaiting(secmq_file_sender *s, int *mids,
                                            uint64_t *rows, size_t cap);

/*
 * secmq_file_sender_tick -- timers and flow: publishes chunks while the
 * window has room, repeats the manifest when receivers are silent, saves
 * progress. Call every 50..500 ms.
 * Returns the number of files not finished yet (0: all done, refused or
 * failed), or a negative SECMQ_E_* when the state file cannot be written.
 */
SECMQ_API int secmq_file_sender_tick(secmq_file_sender *s);

/* Files finished as DONE, REFUSED or FAILED so far (any of the three). */
SECMQ_API void secmq_file_sender_counts(secmq_file_sender *s, unsigned *done,
                                        unsigned *refused, unsigned *failed);

/* secmq_file_sender_errmsg -- the latest failure's detail, as
 * secmq_client_errmsg. */
SECMQ_API size_t secmq_file_sender_errmsg(secmq_file_sender *s, char *buf,
                                          size_t len);

/* ------------------------------------------------------------------------ */
/* Receiver                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct secmq_file_receiver secmq_file_receiver;

/* Receiver settings; secmq_file_recv_opts_init() fills the defaults. */
typedef struct secmq_file_recv_opts {
    size_t size;         /* sizeof(secmq_file_recv_opts); set by _init */
    uint64_t max_size;   /* refuse larger files; default 4 GiB */
    uint64_t reserve;    /* refuse a file that would leave less free space
                            than this on the disk; default 16 MiB */
    int retry_ms;        /* ask for missing chunks after this long without
                            one (doubling, up to 60 s); default 3000 */
    const char *state;   /* sqlite file of the progress (BORROWED, copied);
                            NULL = DIR/.secmq-recv.db */
    unsigned max_active; /* transfers in progress at once; default 16.
                            A manifest that finds them all taken is
                            answered REFUSED with SECMQ_FILE_R_BUSY and
                            not recorded (judged again when repeated),
                            and reported as a REFUSED event with that
                            reason */
    int stall_ms;        /* give up a transfer in progress after this
                            long without a new chunk (and after a
                            restart, this long after resuming it): the
                            partial file is removed and the transfer
                            forgotten, so its slot is free again; a
                            sender that comes back starts it over.
                            >= 100, or 0 for the default: 600000
                            (10 minutes) */
} secmq_file_recv_opts;

/* secmq_file_recv_opts_init -- the defaults above. Never fails. */
SECMQ_API void secmq_file_recv_opts_init(secmq_file_recv_opts *o);

/*
 * secmq_file_receiver_new -- a receiver of files announced on topic
 * (BORROWED, copied), written into the existing directory dir (BORROWED;
 * opened once: everything is created relative to it, never outside).
 * c and kr are BORROWED and must outlive the receiver; kr must hold a
 * channel covering topic/m and be a publisher of one covering
 * topic/r/+. Unfinished transfers of the state file are resumed: their
 * partial files are reopened and the missing chunks asked for.
 * Returns SECMQ_OK, SECMQ_E_INVAL, SECMQ_E_NO_KEY (kr holds no channel
 * covering topic/m, or may not publish on topic/r/<id>: err names the
 * identity and the missing channel), SECMQ_E_IO (dir or state file; the
 * detail in err), SECMQ_E_NOMEM. *out is NULL on failure.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_file_receiver_new(secmq_file_receiver **out, secmq_client *c,
                        secmq_keyring *kr, const char *topic, const char *dir,
                        const secmq_file_recv_opts *o, secmq_file_event_cb cb,
                        void *user, char *err, size_t errlen);

/* secmq_file_receiver_free -- save progress, close files. NULL: no-op. */
SECMQ_API void secmq_file_receiver_free(secmq_file_receiver *r);

/*
 * secmq_file_receiver_handle_connect -- call from on_connect: subscribes
 * to topic/m and topic/c/+ (QoS 1). Returns SECMQ_OK or the client's
 * error.
 */
SECMQ_API int secmq_file_receiver_handle_connect(secmq_file_receiver *r,
                                                 int session_present);

/*
 * secmq_file_receiver_handle_subscribe -- call from on_subscribe (granted
 * BORROWED, count entries). A refusal (0x80) of one of the receiver's
 * subscriptions ends it: the next secmq_file_receiver_tick() returns
 * SECMQ_E_AUTH and secmq_file_receiver_errmsg() says "the broker refused
 * the subscription to TOPIC/m: not authorised". Other SUBACKs are ignored.
 */
SECMQ_API void secmq_file_receiver_handle_subscribe(secmq_file_receiver *r,
                                                    int mid, int count,
                                                    const int *granted);

/*
 * secmq_file_receiver_handle_message -- call from on_message. Returns 1 if
 * the message was the receiver's (manifest or chunk, consumed even when it
 * did not verify), else 0.
 */
SECMQ_API int secmq_file_receiver_handle_message(secmq_file_receiver *r,
                                                 const secmq_message *m);

/*
 * secmq_file_receiver_handle_publish -- call from on_publish: the broker
 * acknowledged one of the receiver's requests (or another message of the
 * client, which is ignored).
 */
SECMQ_API void secmq_file_receiver_handle_publish(secmq_file_receiver *r,
                                                  int mid, int rc);

/*
 * secmq_file_receiver_handle_publish_v2 -- the same, returning 1 when mid
 * was one of the receiver's requests, 0 when it is another of the client's.
 * The receiver remembers the packet ids of at most 256 requests awaiting
 * their PUBACK; the ack of a request published while 256 were waiting is
 * not recognised (returns 0).
 */
SECMQ_API int secmq_file_receiver_handle_publish_v2(secmq_file_receiver *r,
                                                    int mid, int rc);

/*
 * secmq_file_receiver_unacked -- requests (NEED, DONE, REFUSED) published
 * and not yet acknowledged by the broker. Before disconnecting, wait (a
 * bounded time) until this is 0, or the sender may never hear the last
 * answer (it then asks again with its manifest, which a receiver that
 * has left cannot answer).
 */
SECMQ_API unsigned secmq_file_receiver_unacked(secmq_file_receiver *r);

/*
 * secmq_file_receiver_awaiting -- the packet ids of those requests (at
 * most cap written into mids, BORROWED and written). Returns how many
 * there are (may exceed cap; at most 256); 0 for NULL.
 */
SECMQ_API size_t secmq_file_receiver_awaiting(secmq_file_receiver *r, int *mids,
                                              size_t cap);

/*
 * secmq_file_receiver_tick -- timers: saves progress, asks for missing
 * chunks after a silence, gives up transfers stalled for stall_ms. Call
 * every 50..500 ms.
 * Returns the number of transfers in progress, or a negative SECMQ_E_*
 * that ends the receiver (secmq_file_receiver_errmsg says why): the state
 * file cannot be written (SECMQ_E_IO), an answer to a sender cannot be
 * sealed (SECMQ_E_NO_KEY: the keyring lost the request channel), or the
 * broker refused a subscription (SECMQ_E_AUTH).
 */
SECMQ_API int secmq_file_receiver_tick(secmq_file_receiver *r);

/* secmq_file_receiver_errmsg -- the latest failure's detail. */
SECMQ_API size_t secmq_file_receiver_errmsg(secmq_file_receiver *r, char *buf,
                                            size_t len);

#ifdef __cplusplus
}
#endif
#endif /* SECMQ_FILE_H */
