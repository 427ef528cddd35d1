// certs: which server certificate each accepted handshake of a load run saw, on a timeline of
// 100 ms slots, and the switches from one certificate to another read from that timeline.
//
// Recording (the hot path, every generator thread): the leaf's DER is compared with the one the
// thread saw last (length and memcmp); only a certificate new to the thread is looked up in the
// run's table (immutable entries published with a release store, no lock), and only one new to
// the run takes the table's mutex, to copy its DER and decode serial, not-after and subject once.
// Each handshake adds one relaxed atomic count to its slot; nothing is allocated per handshake.
//
// Reading: a certificate is *settled* over a run of slots where it alone was seen that spans at
// least 1 s (0.3 s at the run's start or end). Between two settled runs of different certificates
// lies a switch; a stretch where several certificates were seen and none settled (a fleet behind a
// load balancer mid-rollout) is one *mixed* period, not one entry per handshake. The failures of a
// switch are the handshakes that ended in an error (a good identity rejected is one) in the slots
// from 1 s before its first handshake with the new certificate to 1 s after its last with the old.
#ifndef MH_LOAD_CERTS_H
#define MH_LOAD_CERTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MH_CERTS_MAX 16                   // certificates told apart in a run; more count as "other"
#define MH_CERTS_OTHER MH_CERTS_MAX       // the slot column of the certificates beyond MH_CERTS_MAX
#define MH_CERTS_FAIL (MH_CERTS_MAX + 1)  // the slot column of failed handshakes
#define MH_CERTS_COLS (MH_CERTS_MAX + 2)
#define MH_CERTS_SLOT_US 100000    // one slot of the timeline: 100 ms
#define MH_CERTS_WINDOW_SLOTS 10   // a switch's failure window: 1 s either side
#define MH_CERTS_SETTLED_SLOTS 10  // a certificate alone for 1 s is settled...
#define MH_CERTS_EDGE_SLOTS 3      // ...or for 0.3 s at the start or end of the run
#define MH_CERTS_MAX_CHANGES 32    // switches and mixed periods listed; the rest counted
#define MH_CERTS_MAX_DER 16384     // a longer leaf is counted as "other"

// mh_certs_entry is one certificate a run saw.
struct mh_certs_entry {
  char serial[80];            // hex, as BoringSSL's BN_bn2hex writes it
  char subject[256];          // one line, RFC 2253; text from the peer: escape it before showing it
  int64_t not_after;          // unix seconds
  int64_t first_us, last_us;  // first and last handshake that saw it, from the run's start
  unsigned long long handshakes;
};

// mh_certs is what a run (or a merge of runs) saw: the certificates and the timeline. Owned by
// the result it is part of; mh_certs_cleanup frees it.
struct mh_certs {
  struct mh_certs_entry entries[MH_CERTS_MAX];
  size_t num;
  unsigned long long other;  // handshakes that saw a certificate beyond the first MH_CERTS_MAX
  uint32_t *slots;           // num_slots x MH_CERTS_COLS counts; NULL: none
  size_t num_slots;
  long long base_unix_ms;  // the wall-clock instant (unix ms) its times count from
};

// mh_certs_table is the run's shared table while it runs.
struct mh_certs_table {
  pthread_mutex_t mu;
  atomic_size_t num;  // entries published: each is complete before num covers it
  uint8_t *der[MH_CERTS_MAX];
  size_t der_len[MH_CERTS_MAX];
  struct mh_certs_entry entries[MH_CERTS_MAX];
  uint32_t *slots;  // num_slots x MH_CERTS_COLS, relaxed atomic adds
  size_t num_slots;
};

// mh_certs_local is one thread's part: its last certificate and what it saw of each.
struct mh_certs_local {
  uint8_t last[MH_CERTS_MAX_DER];
  size_t last_len;
  int last_idx;  // -1: none yet
  int64_t first_us[MH_CERTS_MAX + 1], last_us[MH_CERTS_MAX + 1];
  unsigned long long count[MH_CERTS_MAX + 1];
};

// mh_certs_describe_fn decodes a DER certificate into |e|'s serial, subject and not_after;
// returns 0 or -1 (tls/ does it with BoringSSL; tests pass their own).
typedef int (*mh_certs_describe_fn)(const uint8_t *der, size_t len, struct mh_certs_entry *e);

// mh_certs_table_init prepares |t| (caller-owned) with a timeline of |num_slots| slots. Returns 0,
// or -1 when out of memory. mh_certs_table_cleanup frees it either way.
int mh_certs_table_init(struct mh_certs_table *t, size_t num_slots);
void mh_certs_table_cleanup(struct mh_certs_table *t);

// mh_certs_local_init empties a thread's part.
void mh_certs_local_init(struct mh_certs_local *l);

// mh_certs_seen records a handshake that ended at |end_us| from the run's start having seen the
// leaf |der|: the thread's |l|, the table's timeline. No allocation unless the certificate is new
// to the run.
void mh_certs_seen(struct mh_certs_table *t, struct mh_certs_local *l, const uint8_t *der,
                   size_t len, int64_t end_us, mh_certs_describe_fn describe);

// mh_certs_failed records a handshake that ended in an error at |end_us|.
void mh_certs_failed(struct mh_certs_table *t, int64_t end_us);

// mh_certs_collect fills |out| (zeroed, caller-owned) from the table and every thread's part,
// and moves the timeline into it (|t| no longer holds it).
void mh_certs_collect(struct mh_certs *out, struct mh_certs_table *t,
                      const struct mh_certs_local *const *locals, size_t n);

// mh_certs_cleanup frees what |c| owns (its timeline), not |c|.
void mh_certs_cleanup(struct mh_certs *c);

enum mh_certs_change_kind { MH_CERTS_SWITCH, MH_CERTS_MIXED };

// mh_certs_change is one switch or mixed period read from a timeline.
struct mh_certs_change {
  enum mh_certs_change_kind kind;
  int from, to;      // entry indexes: the settled certificate before and after (-1: none, the edge)
  int64_t at_us;     // switch: first handshake with |to| (to the slot, or exact when it was the
                     // certificate's first in the run); mixed: the start of its first slot
  int64_t until_us;  // switch: the end of the last slot with |from|; mixed: of its last slot
  // The failure window, [start of its first slot, end of its last slot), and its failures.
  int64_t window_from_us, window_to_us;
  unsigned long long failures;
  // Handshakes from |at_us| to |until_us| by certificate (MH_CERTS_OTHER: the rest).
  unsigned long long during[MH_CERTS_MAX + 1];
};

// mh_certs_changes reads the switches and mixed periods of |c| into |out| (at most |max|) and
// returns how many there are in all (more than |max|: the rest were not listed).
size_t mh_certs_changes(const struct mh_certs *c, struct mh_certs_change *out, size_t max);

// mh_certs_failures_around returns the failed handshakes of |c| inside any of the windows of the
// |n| changes |ch|, each counted once: two changes close together (a swap and its rollback) have
// overlapping windows, and adding their counts would report a failure twice.
unsigned long long mh_certs_failures_around(const struct mh_certs *c,
                                            const struct mh_certs_change *ch, size_t n);

#endif
