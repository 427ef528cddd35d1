// mailbox: a replica federation's queue of what its primary publishes. The primary's loop posts
// (under the lock) and wakes the replica's loop, which sends the mail to its own clients; so every
// loop of `serve --threads` feeds its clients without sharing connections across threads.
#include <stdlib.h>
#include <string.h>

#include "mock/internal.h"

// mail_cb runs on a replica's loop: it sends the primary's messages to this loop's clients.
static void mail_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_federation *f = w->data;
  pthread_mutex_lock(&f->mail_mu);
  struct mh_mail *m = f->mail_head;
  f->mail_head = f->mail_tail = NULL;
  pthread_mutex_unlock(&f->mail_mu);
  while (m != NULL) {
    struct mh_mail *next = m->next;
    if (!f->stopped && m->loc < f->num_locs && !f->locs[m->loc].down) {
      mh_server_publish(&f->locs[m->loc], m->payload, m->origin[0] ? m->origin : NULL, m->seq);
    }
    free(m);
    m = next;
  }
}

void mh_mailbox_init(struct mh_federation *f) {
  pthread_mutex_init(&f->mail_mu, NULL);
  f->mail_head = f->mail_tail = NULL;
  ev_async_init(&f->mail_async, mail_cb);
  f->mail_async.data = f;
  if (f->primary != NULL) {
    ev_async_start(f->loop, &f->mail_async);
  }
}

void mh_mailbox_cleanup(struct mh_federation *f) {
  // Stopping an inactive watcher is a no-op; an active one must leave its loop before |f| is
  // freed, or the loop keeps a pointer into freed memory.
  ev_async_stop(f->loop, &f->mail_async);
  while (f->mail_head != NULL) {
    struct mh_mail *next = f->mail_head->next;
    free(f->mail_head);
    f->mail_head = next;
  }
  f->mail_tail = NULL;
  pthread_mutex_destroy(&f->mail_mu);
}

void mh_mailbox_post(struct mh_loc *l, const char *payload, const char *origin, long long seq) {
  struct mh_federation *f = l->fed;
  if (f->num_replicas == 0 || l->num_outs == 0) {
    return;
  }
  size_t plen = strlen(payload), olen = origin != NULL ? strlen(origin) : 0;
  for (size_t i = 0; i < f->num_replicas; i++) {
    struct mh_federation *r = f->replicas[i];
    struct mh_mail *m = malloc(sizeof(*m) + plen + 1 + olen + 1);
    if (m == NULL) {
      continue;  // this replica's clients miss the message, as a slow client would
    }
    m->next = NULL;
    m->loc = (size_t)(l - f->locs);
    m->seq = seq;
    memcpy(m->payload, payload, plen + 1);
    m->origin = m->payload + plen + 1;
    memcpy(m->origin, origin != NULL ? origin : "", olen + 1);
    pthread_mutex_lock(&r->mail_mu);
    if (r->mail_tail != NULL) {
      r->mail_tail->next = m;
    } else {
      r->mail_head = m;
    }
    r->mail_tail = m;
    pthread_mutex_unlock(&r->mail_mu);
    ev_async_send(r->loop, &r->mail_async);
  }
}
