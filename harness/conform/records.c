// records: the mocks' records of the cases' connections (see records.h).
#include "conform/records.h"

#include <stdlib.h>
#include <string.h>

void mh_records_init(struct mh_records *t) {
  memset(t, 0, sizeof(*t));
  pthread_mutex_init(&t->mu, NULL);
}

void mh_records_free(struct mh_records *t) {
  free(t->items);
  t->items = NULL;
  t->num = t->cap = 0;
  pthread_mutex_destroy(&t->mu);
}

// port_of returns the port of "ip:port" or "[ip]:port", -1 if there is none.
static int port_of(const char *peer) {
  const char *colon = strrchr(peer, ':');
  return colon != NULL ? atoi(colon + 1) : -1;
}

void mh_records_observe(void *arg, const struct mh_server_record *rec) {
  struct mh_records *t = arg;
  pthread_mutex_lock(&t->mu);
  for (struct mh_record_wait **p = &t->waiters; *p != NULL; p = &(*p)->next) {
    struct mh_record_wait *w = *p;
    if (strcmp(w->peer, rec->peer) == 0 && strcmp(w->location, rec->location) == 0) {
      *w->out = *rec;
      w->found = 1;
      *p = w->next;  // delivered: the waiter only has mh_records_done left to call
      ev_async_send(w->loop, w->wake);
      pthread_mutex_unlock(&t->mu);
      return;
    }
  }
  if (t->num == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    struct mh_server_record *p = realloc(t->items, cap * sizeof(*p));
    if (p == NULL) {
      pthread_mutex_unlock(&t->mu);
      return;  // the case finds no record: its server side stays unknown, as for a target
    }
    t->items = p;
    t->cap = cap;
  }
  t->items[t->num++] = *rec;
  pthread_mutex_unlock(&t->mu);
}

// take removes record |i| of |t| (the caller holds the lock).
static void take(struct mh_records *t, size_t i) {
  memmove(&t->items[i], &t->items[i + 1], (t->num - i - 1) * sizeof(t->items[0]));
  t->num--;
}

void mh_records_forget(struct mh_records *t, const char *location, int port) {
  pthread_mutex_lock(&t->mu);
  for (size_t i = t->num; i > 0; i--) {
    const struct mh_server_record *x = &t->items[i - 1];
    if (port_of(x->peer) == port && strcmp(x->location, location) == 0) {
      take(t, i - 1);
    }
  }
  pthread_mutex_unlock(&t->mu);
}

int mh_records_wait(struct mh_records *t, struct mh_record_wait *w) {
  pthread_mutex_lock(&t->mu);
  w->found = 0;
  for (size_t i = 0; i < t->num; i++) {
    if (strcmp(t->items[i].peer, w->peer) == 0 && strcmp(t->items[i].location, w->location) == 0) {
      *w->out = t->items[i];
      take(t, i);
      w->found = 1;
      pthread_mutex_unlock(&t->mu);
      return 1;
    }
  }
  w->next = t->waiters;
  t->waiters = w;
  pthread_mutex_unlock(&t->mu);
  return 0;
}

int mh_records_done(struct mh_records *t, struct mh_record_wait *w) {
  pthread_mutex_lock(&t->mu);
  for (struct mh_record_wait **p = &t->waiters; *p != NULL; p = &(*p)->next) {
    if (*p == w) {
      *p = w->next;
      break;
    }
  }
  int found = w->found;
  pthread_mutex_unlock(&t->mu);
  return found;
}
