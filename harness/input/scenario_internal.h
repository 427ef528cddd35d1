// scenario_internal.h: what the scenario parser (scenario.c: the document and its locations) and
// scenario_cases.c (its matrix and cases) share; nothing outside them uses it.
#ifndef MH_INPUT_SCENARIO_INTERNAL_H
#define MH_INPUT_SCENARIO_INTERNAL_H

#include <stdio.h>

#include "input/json.h"
#include "input/scenario.h"

// scenario_parse_matrix reads "matrix" |m| into |s| (its locations and spec already parsed).
// Returns 0 or -1 with the error set in |c|.
int scenario_parse_matrix(struct mh_json_ctx *c, const cJSON *m, struct mh_scenario *s);

// scenario_parse_cases reads "cases" |arr| into |s| (after the matrix, whose ids a case may not
// take). Returns 0 or -1 with the error set in |c|.
int scenario_parse_cases(struct mh_json_ctx *c, const cJSON *arr, struct mh_scenario *s);

// mh_scenario_cases_print_keys writes the JSON paths of the matrix's and the cases' keys, one per
// line (for mh_scenario_print_keys).
void mh_scenario_cases_print_keys(FILE *out);

#endif
