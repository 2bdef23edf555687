/*
 * tlsalert.c -- what a broker's TLS alert or hang-up means, in words.
 *
 * tls.c hands over the alert number (RFC 8446 section 6) the broker sent,
 * or the fact that it closed the connection without one, together with what
 * we know about the client certificate; this file picks the SECMQ_E_* code
 * and the sentence. It never sees wolfSSL: alert numbers are TLS's own.
 */
#include <stddef.h>

#include "tls_int.h"

/* The alerts a broker may send, and for those about a certificate what
 * they say about ours. */
static const struct {
    int code;
    const char *name;
    const char *cert_reason; /* NULL: not about a certificate */
} alerts[] = {
    {10, "unexpected_message", NULL},
    {20, "bad_record_mac", NULL},
    {40, "handshake_failure", NULL},
    {42, "bad_certificate", "bad certificate"},
    {43, "unsupported_certificate",
     "unsupported certificate, perhaps not meant for client use"},
    {44, "certificate_revoked", "revoked"},
    {45, "certificate_expired", "expired or not valid yet"},
    {46, "certificate_unknown", "certificate unknown"},
    {47, "illegal_parameter", NULL},
    {48, "unknown_ca", "unknown CA, not signed by a CA the broker trusts"},
    {49, "access_denied", NULL},
    {50, "decode_error", NULL},
    {51, "decrypt_error", NULL},
    {70, "protocol_version", NULL},
    {71, "insufficient_security", NULL},
    {80, "internal_error", NULL},
    {112, "unrecognized_name", NULL},
    {116, "certificate_required", NULL},
};

static const char *alert_name(int code)
{
    for (size_t i = 0; i < sizeof alerts / sizeof alerts[0]; i++) {
        if (alerts[i].code == code) {
            return alerts[i].name;
        }
    }
    return "unknown";
}

/* Why the broker refused a certificate, for the alerts that say; NULL for
 * the others. */
static const char *cert_reason(int code)
{
    for (size_t i = 0; i < sizeof alerts / sizeof alerts[0]; i++) {
        if (alerts[i].code == code) {
            return alerts[i].cert_reason;
        }
    }
    return NULL;
}

static int no_certificate(secmq__err *err, const char *how)
{
    return secmq__err_set(err, SECMQ_E_TLS,
                          "TLS: the broker requires a client certificate and "
                          "none was configured (%s)",
                          how);
}

int secmq__tls_explain_alert(const secmq__tls_peer_view *v, int alert,
                             const char *detail, secmq__err *err)
{
    const char *why = cert_reason(alert);

    if (why != NULL && v->certfile != NULL) {
        return secmq__err_set(err,
                              alert == 45 ? SECMQ_E_TLS_EXPIRED : SECMQ_E_TLS,
                              "TLS: the broker refused our client certificate "
                              "'%s': %s (alert %s)",
                              v->certfile, why, alert_name(alert));
    }
    if (v->certfile == NULL &&
        (alert == 116 || (v->cert_requested && (why != NULL || alert == 40)))) {
        /* TLS 1.3 says certificate_required; TLS 1.2 brokers on OpenSSL
         * say handshake_failure after asking for a certificate. */
        return alert == 116
                   ? no_certificate(err, "alert certificate_required")
                   : secmq__err_set(err, SECMQ_E_TLS,
                                    "TLS: the broker requires a client "
                                    "certificate and none was configured "
                                    "(it asked for one, then sent alert %s)",
                                    alert_name(alert));
    }
    switch (alert) {
    case 116:
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: the broker says it got no client "
                              "certificate although '%s' is configured "
                              "(alert certificate_required)",
                              v->certfile);
    case 40:
        if (v->cert_requested) {
            return secmq__err_set(err, SECMQ_E_TLS,
                                  "TLS: the broker refused our client "
                                  "certificate '%s' (alert handshake_failure "
                                  "after it asked for one)",
                                  v->certfile);
        }
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: handshake failure: no cipher suite or "
                              "parameters in common with the broker");
    case 51:
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: the broker could not verify our signature "
                              "(alert decrypt_error): does the client key "
                              "match the client certificate%s%s%s?",
                              v->certfile ? " '" : "",
                              v->certfile ? v->certfile : "",
                              v->certfile ? "'" : "");
    case 70:
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: no protocol version in common with the "
                              "broker (alert protocol_version)");
    default:
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: the broker sent fatal alert %s (%d): %s",
                              alert_name(alert), alert, detail);
    }
}

int secmq__tls_explain_close(const secmq__tls_peer_view *v, secmq__err *err)
{
    if (!v->cert_requested) {
        return SECMQ_OK;
    }
    if (v->certfile == NULL) {
        return no_certificate(err, "it asked for one, then closed the "
                                   "connection");
    }
    /* With TLS 1.3 the broker checks our certificate after our side of the
     * handshake is done; its alert can be lost when it hangs up on data we
     * already sent. Nothing else closes a session at this point so often. */
    return secmq__err_set(err, SECMQ_E_TLS,
                          "TLS: the broker closed the connection before "
                          "answering, right after it asked for our client "
                          "certificate: it probably refused '%s' (not signed "
                          "by a CA it trusts, expired, or not meant for "
                          "client use; no alert arrived, the broker's log "
                          "says which)",
                          v->certfile);
}
