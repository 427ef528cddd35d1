// resume: what resumption needs remembered. A resuming client keeps the sessions the server
// issued (a ring per context) and offers them again; a server remembers what it learnt of the
// client certificate behind each session it issued, since a session keeps only the certificate's
// hash, so that a resumed connection reports the same identity and verdict.
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/internal.h"

#define MH_TLS_NUM_MEMOS 64

struct mh_tls_memo {
  uint8_t sha256[SHA256_DIGEST_LENGTH];
  int used;
  int verify_ok;
  char peer_cn[256];
  char peer_dn[512];
  char verify_error[256];
};

// --- client: the sessions it keeps ---

// mh_tls_resume_keep keeps a session the server issued (TLS 1.2 at the end of the handshake,
// TLS 1.3 from a NewSessionTicket after it).
int mh_tls_resume_keep(SSL *ssl, SSL_SESSION *sess) {
  struct mh_tls_conn *t = mh_tls_conn_of(ssl);
  struct mh_tls_ctx *c = t->ctx;
  size_t cap = sizeof(c->sessions) / sizeof(c->sessions[0]);
  if (c->num_sessions == cap) {
    SSL_SESSION_free(c->sessions[0]);
    memmove(c->sessions, c->sessions + 1, (cap - 1) * sizeof(c->sessions[0]));
    c->num_sessions--;
  }
  c->sessions[c->num_sessions++] = sess;
  return 1;  // we took the reference
}

int mh_tls_conn_offer_session(struct mh_tls_conn *t) {
  struct mh_tls_ctx *c = t->ctx;
  if (c->num_sessions == 0) {
    return 0;
  }
  SSL_SESSION *sess;
  if (SSL_SESSION_should_be_single_use(c->sessions[c->num_sessions - 1])) {
    sess = c->sessions[--c->num_sessions];  // TLS 1.3: each ticket once
    SSL_set_session(t->ssl, sess);
    SSL_SESSION_free(sess);
  } else {
    sess = c->sessions[c->next_session++ % c->num_sessions];
    SSL_set_session(t->ssl, sess);
  }
  return 1;
}

// --- server: what it remembers of its sessions' clients ---

// leaf_sha256 gives the hash the session being negotiated keeps of the client's certificate: the
// library computed it while parsing the Certificate message, before verification.
static int leaf_sha256(const SSL *ssl, uint8_t out[SHA256_DIGEST_LENGTH]) {
  const SSL_SESSION *sess = SSL_get_session(ssl);
  const uint8_t *sha;
  size_t sha_len;
  if (sess == NULL || !SSL_SESSION_has_peer_sha256(sess)) {
    return 0;
  }
  SSL_SESSION_get0_peer_sha256(sess, &sha, &sha_len);
  if (sha_len != SHA256_DIGEST_LENGTH) {
    return 0;
  }
  memcpy(out, sha, SHA256_DIGEST_LENGTH);
  return 1;
}

// mh_tls_resume_remember notes the identity and verdict of |t|'s verified (or, for nginx, judged)
// client certificate under its hash, which is all a session of this server keeps of it.
void mh_tls_resume_remember(struct mh_tls_conn *t) {
  struct mh_tls_ctx *c = t->ctx;
  uint8_t sha[SHA256_DIGEST_LENGTH];
  if (!leaf_sha256(t->ssl, sha)) {
    return;
  }
  if (c->memos == NULL && (c->memos = calloc(MH_TLS_NUM_MEMOS, sizeof(*c->memos))) == NULL) {
    return;
  }
  struct mh_tls_memo *m = NULL;
  for (size_t i = 0; i < MH_TLS_NUM_MEMOS && m == NULL; i++) {
    if (c->memos[i].used && memcmp(c->memos[i].sha256, sha, sizeof(sha)) == 0) {
      m = &c->memos[i];
    }
  }
  if (m == NULL) {
    m = &c->memos[c->next_memo++ % MH_TLS_NUM_MEMOS];
  }
  memcpy(m->sha256, sha, sizeof(sha));
  m->used = 1;
  m->verify_ok = t->info.verify_ok;
  memcpy(m->peer_cn, t->info.peer_cn, sizeof(m->peer_cn));
  memcpy(m->peer_dn, t->info.peer_dn, sizeof(m->peer_dn));
  memcpy(m->verify_error, t->info.verify_error, sizeof(m->verify_error));
}

// mh_tls_resume_recall fills a resumed server connection's peer facts from its session. The session
// exists only because that certificate was accepted (Go) or judged (nginx) when it was issued; if
// the memo was overwritten since, Go's verdict is still known, nginx's is not.
void mh_tls_resume_recall(struct mh_tls_conn *t) {
  struct mh_tls_ctx *c = t->ctx;
  SSL_SESSION *sess = SSL_get_session(t->ssl);
  if (sess == NULL || !SSL_SESSION_has_peer_sha256(sess)) {
    return;  // no client certificate behind this session
  }
  const uint8_t *sha;
  size_t sha_len;
  SSL_SESSION_get0_peer_sha256(sess, &sha, &sha_len);
  t->info.peer_cert = 1;
  for (size_t i = 0; c->memos != NULL && i < MH_TLS_NUM_MEMOS; i++) {
    const struct mh_tls_memo *m = &c->memos[i];
    if (m->used && sha_len == sizeof(m->sha256) && memcmp(m->sha256, sha, sha_len) == 0) {
      t->info.verify_ok = m->verify_ok;
      memcpy(t->info.peer_cn, m->peer_cn, sizeof(t->info.peer_cn));
      memcpy(t->info.peer_dn, m->peer_dn, sizeof(t->info.peer_dn));
      memcpy(t->info.verify_error, m->verify_error, sizeof(t->info.verify_error));
      return;
    }
  }
  t->info.verify_ok = c->emulate == MH_EMULATE_GO;
  if (!t->info.verify_ok) {
    snprintf(t->info.verify_error, sizeof(t->info.verify_error),
             "FAILED:session issued to a certificate no longer remembered");
  }
}

void mh_tls_resume_free_all(struct mh_tls_ctx *c) {
  for (size_t i = 0; i < c->num_sessions; i++) {
    SSL_SESSION_free(c->sessions[i]);
  }
  c->num_sessions = 0;
  free(c->memos);
  c->memos = NULL;
}
