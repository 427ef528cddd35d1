// case_file: the file name a case's id gets in the run's directory (cases/<name>.log, .pcapng).
//
// The mapping is injective, so two cases never share a file: letters, digits, '-' and '.' stay,
// '/' becomes '_', and every other byte (the '_' and ':' of a name, a space, a '%') becomes "%XX".
// The names the matrix generates read as before ("location-a/none/tls1.3" is
// "location-a_none_tls1.3"). A name whose file name exceeds MH_CASE_FILE_MAX bytes is refused by
// the scenario parser, so that "<name>.pcapng" and its staging suffix fit a file name (255 bytes).
#ifndef MH_CASE_FILE_H
#define MH_CASE_FILE_H

#include <stddef.h>

#define MH_CASE_FILE_MAX 200

// mh_case_file_name writes the file name of case |id| into |out| (|out_len| > 0 bytes, always
// terminated; cut at an escape's boundary if it does not fit) and returns its full length, which
// is >= |out_len| when it was cut.
size_t mh_case_file_name(const char *id, char *out, size_t out_len);

#endif
