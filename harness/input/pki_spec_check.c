// pki_spec_check: the fixture spec's whole-spec checks, once every object is parsed (see
// pki_spec_internal.h): names unique, issuers that exist and can issue, imported files that are
// there, outputs that can all be written, zips that hold what the spec writes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "input/json.h"
#include "input/pki_spec_internal.h"

// --- whole-spec checks, after every object parsed ---

static int find_entity(const struct mh_pki_spec *s, size_t limit, const char *name) {
  for (size_t i = 0; i < limit; i++) {
    if (strcmp(s->entities[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}

// import_path resolves the imported file at |*p| (key |key| of |e|) against the spec's directory
// and checks that it is there.
static int import_path(struct mh_json_ctx *c, const struct mh_pki_spec *s,
                       const struct mh_pki_entity *e, const char *key, const char **p) {
  if (*p == NULL) {
    return 0;
  }
  if ((*p)[0] != '/') {
    const char *slash = strrchr(s->file, '/');
    *p = slash ? mh_arena_sprintf(c->a, "%.*s/%s", (int)(slash - s->file), s->file, *p) : *p;
    if (*p == NULL) {
      return mh_json_fail(c, "out of memory");
    }
  }
  struct stat sb;
  if (stat(*p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    return mh_json_fail_at(c, e->json_path, key,
                           "%s: is a directory, not a file (give the file itself)", *p);
  }
  if (stat(*p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    return mh_json_fail_at(
        c, e->json_path, key,
        "%s: no such file (give an existing file, absolute or relative to the spec's directory)",
        *p);
  }
  return 0;
}

// resolve_import checks an imported entity's files and gives it the names configs use.
static int resolve_import(struct mh_json_ctx *c, struct mh_pki_spec *s, struct mh_pki_entity *e) {
  if (import_path(c, s, e, "import_cert", &e->import_cert) != 0 ||
      import_path(c, s, e, "import_key", &e->import_key) != 0 ||
      import_path(c, s, e, "import_chain", &e->import_chain) != 0 ||
      import_path(c, s, e, "passphrase_file", &e->passphrase_file) != 0 ||
      import_path(c, s, e, "import_crl", &e->import_crl) != 0) {
    return -1;
  }
  if (e->passphrase_file != NULL && e->passphrase_env != NULL) {
    return mh_json_fail_at(c, e->json_path, "passphrase_env",
                           "give one passphrase source (remove passphrase_file or passphrase_env)");
  }
  if ((e->passphrase_file != NULL || e->passphrase_env != NULL) && e->import_key == NULL) {
    return mh_json_fail_at(c, e->json_path,
                           e->passphrase_file ? "passphrase_file" : "passphrase_env",
                           "a passphrase needs an encrypted \"import_key\"");
  }
  if (!e->is_ca && e->import_key == NULL) {
    return mh_json_fail_at(c, e->json_path, "import_cert",
                           "an imported identity needs its private key (add \"import_key\")");
  }
  if (e->is_ca && e->import_key == NULL && e->key_file != NULL) {
    return mh_json_fail_at(c, e->json_path, "key_file",
                           "a CA imported without its key has no key file (add \"import_key\" "
                           "or remove \"key_file\")");
  }
  if (!e->is_ca && e->chain_file != NULL && e->import_chain == NULL) {
    return mh_json_fail_at(c, e->json_path, "chain_file",
                           "an imported identity's chain is its \"import_chain\" (add it, or "
                           "remove \"chain_file\")");
  }
  e->issuer = -1;
  if (e->is_ca && e->import_key == NULL) {
    e->key_file = NULL;
  } else if (e->key_file == NULL) {
    e->key_file = mh_arena_sprintf(c->a, "%s-key.pem", e->name);
  }
  if (e->import_chain != NULL && e->chain_file == NULL) {
    e->chain_file = mh_arena_sprintf(c->a, "%s-chain.pem", e->name);
  }
  return 0;
}

// check_can_issue refuses an issuer that is a CA imported without its key.
static int check_can_issue(struct mh_json_ctx *c, const struct mh_pki_spec *s,
                           const struct mh_pki_entity *e, const char *key, int k) {
  const struct mh_pki_entity *ca = &s->entities[k];
  if (ca->imported && ca->import_key == NULL) {
    return mh_json_fail_at(c, e->json_path, key,
                           "CA \"%s\" is imported without its key, so it cannot issue (add its "
                           "\"import_key\", or issue from a generated CA)",
                           ca->name);
  }
  return 0;
}

// resolve_revocation checks |e|'s revocation keys once its issuer is known, and names its CRL: a
// CA that can sign one (generated, or imported with its key) writes <name>-crl.pem unless its
// "crl" names another file; an imported CA's "import_crl" is used where it is.
static int resolve_revocation(struct mh_json_ctx *c, const struct mh_pki_spec *s,
                              struct mh_pki_entity *e, const struct praw *r) {
  if (r->revocation_detail != NULL && !e->revoked) {
    return mh_json_fail_at(c, e->json_path, r->revocation_detail,
                           "only a revoked certificate has this key (add \"revoked\": true, or "
                           "remove \"%s\")",
                           r->revocation_detail);
  }
  if (e->revoked && e->issuer < 0) {
    return mh_json_fail_at(c, e->json_path, "revoked",
                           "a self-signed certificate is on no CA's CRL (give it an issuer, or "
                           "remove \"revoked\")");
  }
  if (e->revoked && s->entities[e->issuer].no_crl) {
    return mh_json_fail_at(c, e->json_path, "revoked",
                           "CA \"%s\" writes no CRL (\"crl\": false), so nothing can list this "
                           "certificate (give the CA a CRL, or remove \"revoked\")",
                           s->entities[e->issuer].name);
  }
  if (e->revoked && s->entities[e->issuer].import_crl != NULL) {
    return mh_json_fail_at(c, e->json_path, "revoked",
                           "CA \"%s\" brings its own CRL (import_crl), which cannot list a "
                           "certificate issued here (revoke it with your CA and import that CRL, "
                           "or issue it from a CA whose CRL is generated)",
                           s->entities[e->issuer].name);
  }
  int can_sign = !e->imported || e->import_key != NULL;
  if (e->is_ca && !e->no_crl && e->crl_file == NULL && (can_sign || e->import_crl != NULL)) {
    e->crl_file = mh_arena_sprintf(c->a, "%s-crl.pem", e->name);
    if (e->crl_file == NULL) {
      return mh_json_fail(c, "out of memory");
    }
  }
  return 0;
}

int pki_spec_resolve(struct mh_json_ctx *c, struct mh_pki_spec *s, const struct praw *raws) {
  char ca_list[512] = "";
  for (size_t i = 0; i < s->num_cas; i++) {
    strncat(ca_list, i ? ", " : "", sizeof(ca_list) - strlen(ca_list) - 1);
    strncat(ca_list, s->entities[i].name, sizeof(ca_list) - strlen(ca_list) - 1);
  }
  for (size_t i = 0; i < s->num_entities; i++) {
    struct mh_pki_entity *e = &s->entities[i];
    const struct praw *r = &raws[i];
    if (find_entity(s, i, e->name) >= 0) {
      return mh_json_fail_at(c, e->json_path, "name",
                             "\"%s\" is declared twice (names must be unique)", e->name);
    }
    if (e->imported) {
      if (resolve_import(c, s, e) != 0) {
        return -1;
      }
    } else if (e->is_ca) {
      if (r->issuer_name != NULL) {
        int k = find_entity(s, i, r->issuer_name);
        if (k < 0) {
          return mh_json_fail_at(c, e->json_path, "issuer",
                                 "names CA \"%s\", which is not declared before it in $.cas",
                                 r->issuer_name);
        }
        if (check_can_issue(c, s, e, "issuer", k) != 0) {
          return -1;
        }
        e->issuer = k;
      }
    } else {
      if (!r->self_signed) {
        if (r->issuer_name == NULL) {
          return mh_json_fail_at(
              c, e->json_path, NULL,
              "\"ca\" is required (name one of: %s), or set \"self_signed\": true",
              s->num_cas ? ca_list : "no CA is declared in $.cas");
        }
        int k = find_entity(s, s->num_cas, r->issuer_name);
        if (k < 0) {
          return mh_json_fail_at(c, e->json_path, "ca",
                                 "names a missing CA \"%s\" (declared CAs: %s)", r->issuer_name,
                                 s->num_cas ? ca_list : "none");
        }
        if (check_can_issue(c, s, e, "ca", k) != 0) {
          return -1;
        }
        e->issuer = k;
      }
    }
    if (e->not_after <= e->not_before) {
      return mh_json_fail_at(
          c, e->json_path, "not_after",
          "the certificate would end before it starts (not_after must be later than "
          "not_before)");
    }
    if (e->x509_version == 1) {
      const char *ext = e->num_dns                         ? "dns"
                        : e->num_ips                       ? "ips"
                        : e->num_uris                      ? "uris"
                        : e->num_emails                    ? "emails"
                        : e->has_eku                       ? "eku"
                        : (e->has_key_usage && e->ku_mask) ? "key_usage"
                                                           : NULL;
      if (ext != NULL) {
        return mh_json_fail_at(
            c, e->json_path, ext,
            "x509_version 1 certificates carry no extensions (remove \"%s\" or use "
            "x509_version 3)",
            ext);
      }
    }
    if (e->key_file == NULL && !e->imported) {
      e->key_file = mh_arena_sprintf(c->a, "%s-key.pem", e->name);
    }
    if (e->cert_file == NULL) {
      e->cert_file = mh_arena_sprintf(c->a, e->is_ca ? "%s.pem" : "%s-cert.pem", e->name);
    }
    if ((e->key_file == NULL && !(e->imported && e->is_ca)) || e->cert_file == NULL) {
      return mh_json_fail(c, "out of memory");
    }
    if (resolve_revocation(c, s, e, r) != 0) {
      return -1;
    }
  }
  return 0;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

// is_dir_of returns 1 if path |dir| is a directory on the way to path |file| ("a" of "a/b").
static int is_dir_of(const char *dir, const char *file) {
  size_t n = strlen(dir);
  return strncmp(dir, file, n) == 0 && file[n] == '/';
}

// check_file_not_dir fails if output |path| (of |json_path|.|key|) is used as a directory by
// another output of |s|: the two could not both be written.
static int check_file_not_dir(struct mh_json_ctx *c, const struct mh_pki_spec *s,
                              const char *json_path, const char *key, const char *path) {
  for (size_t i = 0; i < s->num_entities; i++) {
    const struct mh_pki_entity *o = &s->entities[i];
    const char *ofiles[] = {o->key_file, o->cert_file, o->csr_file, o->chain_file};
    for (size_t m = 0; m < 4; m++) {
      if (ofiles[m] != NULL && is_dir_of(path, ofiles[m])) {
        return mh_json_fail_at(c, json_path, key,
                               "\"%s\" is a file, and %s writes \"%s\" inside it as a directory "
                               "(give them other paths)",
                               path, o->json_path, ofiles[m]);
      }
    }
  }
  for (size_t i = 0; i < s->num_zips; i++) {
    if (is_dir_of(path, s->zips[i].file)) {
      return mh_json_fail_at(c, json_path, key,
                             "\"%s\" is a file, and %s writes \"%s\" inside it as a directory "
                             "(give them other paths)",
                             path, s->zips[i].json_path, s->zips[i].file);
    }
  }
  return 0;
}

// check_no_file_is_a_dir runs check_file_not_dir on every output of |s|.
static int check_no_file_is_a_dir(struct mh_json_ctx *c, const struct mh_pki_spec *s) {
  static const char *const keys[] = {"key_file", "cert_file", "csr_file", "chain_file", "crl"};
  for (size_t i = 0; i < s->num_entities; i++) {
    const struct mh_pki_entity *e = &s->entities[i];
    const char *files[] = {e->key_file, e->cert_file, e->csr_file, e->chain_file, e->crl_file};
    for (size_t k = 0; k < 5; k++) {
      if (files[k] != NULL && check_file_not_dir(c, s, e->json_path, keys[k], files[k]) != 0) {
        return -1;
      }
    }
  }
  for (size_t i = 0; i < s->num_zips; i++) {
    if (check_file_not_dir(c, s, s->zips[i].json_path, "file", s->zips[i].file) != 0) {
      return -1;
    }
  }
  return 0;
}

int pki_spec_check_outputs(struct mh_json_ctx *c, struct mh_pki_spec *s) {
  if (check_no_file_is_a_dir(c, s) != 0) {
    return -1;
  }
  // Every output path once.
  for (size_t i = 0; i < s->num_entities; i++) {
    const struct mh_pki_entity *e = &s->entities[i];
    const char *files[] = {e->key_file, e->cert_file, e->csr_file, e->chain_file, e->crl_file};
    const char *keys[] = {"key_file", "cert_file", "csr_file", "chain_file", "crl"};
    for (size_t k = 0; k < 5; k++) {
      if (files[k] == NULL) {
        continue;
      }
      for (size_t j = 0; j <= i; j++) {
        const struct mh_pki_entity *o = &s->entities[j];
        const char *ofiles[] = {o->key_file, o->cert_file, o->csr_file, o->chain_file, o->crl_file};
        for (size_t m = 0; m < (j == i ? k : 5); m++) {
          if (ofiles[m] != NULL && strcmp(ofiles[m], files[k]) == 0) {
            return mh_json_fail_at(c, e->json_path, keys[k],
                                   "\"%s\" is also written by %s (give each file its own path)",
                                   files[k], o->json_path);
          }
        }
      }
    }
  }
  for (size_t i = 0; i < s->num_zips; i++) {
    const struct mh_pki_zip *z = &s->zips[i];
    int is_key;
    if (pki_spec_output_owner(s, z->file, &is_key) != NULL) {
      return mh_json_fail_at(c, z->json_path, "file", "\"%s\" is also a certificate or key output",
                             z->file);
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(s->zips[j].file, z->file) == 0) {
        return mh_json_fail_at(c, z->json_path, "file", "\"%s\" is also written by %s", z->file,
                               s->zips[j].json_path);
      }
    }
    for (size_t m = 0; m < z->num_members; m++) {
      char key[32];
      snprintf(key, sizeof(key), "members[%zu]", m);
      const struct mh_pki_entity *owner = pki_spec_output_owner(s, z->members[m], &is_key);
      if (owner == NULL) {
        return mh_json_fail_at(
            c, z->json_path, key,
            "\"%s\" is not a file this spec writes (use a key_file, cert_file, csr_file "
            "or chain_file path)",
            z->members[m]);
      }
      if (pki_spec_imported_file(owner, z->members[m]) != NULL) {
        return mh_json_fail_at(c, z->json_path, key,
                               "\"%s\" is imported from %s, not written by this spec (a zip holds "
                               "generated files)",
                               z->members[m], pki_spec_imported_file(owner, z->members[m]));
      }
      if (owner->is_ca && is_key) {
        return mh_json_fail_at(
            c, z->json_path, key,
            "\"%s\" is the private key of CA \"%s\": a CA key never goes into a zip", z->members[m],
            owner->name);
      }
      const char *bm = base_name(z->members[m]);
      if (z->readme && strcmp(bm, "README.md") == 0) {
        return mh_json_fail_at(c, z->json_path, key, "clashes with the generated README.md");
      }
      for (size_t n = 0; n < m; n++) {
        if (strcmp(base_name(z->members[n]), bm) == 0) {
          return mh_json_fail_at(c, z->json_path, key,
                                 "\"%s\" has the same file name as members[%zu] (zips are flat)",
                                 bm, n);
        }
      }
    }
  }
  return 0;
}
