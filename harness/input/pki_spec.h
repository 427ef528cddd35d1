// spec: the fixture spec parser (docs/pki-spec.md). It returns plain, read-only data living in the
// caller's arena; pki.c generates the fixtures from it.
//
// Every error is one line: "<file>: $.json.path: what is wrong (how to fix it)".
#ifndef MH_INPUT_SPEC_H
#define MH_INPUT_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/err.h"
#include "pki/pki.h"

// mh_pki_spec_load reads and parses the fixture spec at |path| into |out|, allocating from |a|.
// Returns 0, or -1 with |err| set; nothing is written anywhere either way.
int mh_pki_spec_load(struct mh_arena *a, const char *path, struct mh_pki_spec *out,
                     struct mh_err *err);

// mh_pki_spec_parse is mh_pki_spec_load on |len| bytes of |text|, named |name| in messages.
int mh_pki_spec_parse(struct mh_arena *a, const char *name, const char *text, size_t len,
                      struct mh_pki_spec *out, struct mh_err *err);

// mh_pki_spec_print_keys writes, one per line, the JSON path of every key the spec parser accepts
// (e.g. "$.identities[].dns[]"), so that tests can check each one is documented.
void mh_pki_spec_print_keys(FILE *out);

// mh_pki_spec_writes returns 1 if |path| is a file name of the parsed spec |s| (a key_file,
// cert_file, csr_file or chain_file, generated or imported), 0 otherwise.
int mh_pki_spec_writes(const struct mh_pki_spec *s, const char *path);

// mh_pki_spec_owner returns the entity of |s| whose file (key, certificate, CSR or chain) is
// named |path|, or NULL when none is.
const struct mh_pki_entity *mh_pki_spec_owner(const struct mh_pki_spec *s, const char *path);

// mh_pki_spec_file writes into |out| where file name |name| of |s| is on disk once the spec is
// generated into |out_dir|: the imported file it stands for, or |out_dir|/|name|. Every reader of
// an identity's or a CA's files (runner, oracle, load, the /certs/ paths of configs) goes through
// it, so imported files are found where they are.
void mh_pki_spec_file(const struct mh_pki_spec *s, const char *out_dir, const char *name, char *out,
                      size_t out_len);

// mh_pki_spec_parse_duration parses a signed duration such as "90d", "-1h", "1d12h" or "+30m"
// (units s, m, h, d, w; no sign means positive) into seconds. Returns 0, or -1 if |s| is not a
// duration or exceeds 200 years.
int mh_pki_spec_parse_duration(const char *s, int64_t *out_seconds);

// mh_pki_spec_entity returns the index of the CA or identity named |name| in |spec|, or -1.
int mh_pki_spec_entity(const struct mh_pki_spec *spec, const char *name);

#endif
