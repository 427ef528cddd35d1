// pki_spec_internal.h: what the spec parser (pki_spec.c, object by object) and its whole-spec
// checks (pki_spec_check.c, once every object is parsed) share; nothing outside them uses it.
#ifndef MH_INPUT_PKI_SPEC_INTERNAL_H
#define MH_INPUT_PKI_SPEC_INTERNAL_H

#include "input/json.h"
#include "input/pki_spec.h"

// praw holds what an entity declared before references are resolved.
struct praw {
  const char *issuer_name;  // "issuer" of a CA, "ca" of an identity
  int self_signed;
  int has_days;
  int has_not_after;
  const char *revocation_detail;  // "revocation_reason" or "revoked_at", when given
};

// pki_spec_resolve resolves the entities' references (issuers, imports) once every object of
// |s| is parsed, |raws| what each declared. Returns 0 or -1 with the error set in |c|.
int pki_spec_resolve(struct mh_json_ctx *c, struct mh_pki_spec *s, const struct praw *raws);

// pki_spec_check_outputs checks that |s|'s outputs can all be written and that its zips name
// files it writes. Returns 0 or -1 with the error set in |c|.
int pki_spec_check_outputs(struct mh_json_ctx *c, struct mh_pki_spec *s);

// pki_spec_output_owner returns the entity of |s| that writes |path| (and whether it is that
// entity's key), or NULL.
const struct mh_pki_entity *pki_spec_output_owner(const struct mh_pki_spec *s, const char *path,
                                                  int *out_is_key);

// pki_spec_imported_file returns the imported file behind name |path| of |e|, or NULL if that
// name is a file generated into the output directory.
const char *pki_spec_imported_file(const struct mh_pki_entity *e, const char *path);

#endif
