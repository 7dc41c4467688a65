/* What the CLI tests expect cgstat to print, computed from the daemon's JSON
 * (read with jansson) by the test's own renderings of docs/api.md; "-" for
 * null. A missing key or a value of another type is a test failure. */
#ifndef CGSTAT_TH_CLI_EXPECT_H
#define CGSTAT_TH_CLI_EXPECT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* s parsed (any JSON value, duplicate keys refused); NULL and a failure
 * named what when it is not JSON. */
json_t *jparse(const char *s, const char *what);
/* The value at a dotted path ("cpu.usage_ns"); a missing key is a failure. */
json_t *jat(json_t *root, const char *key);
/* A non-negative integer / a string at key (0 / "" and a failure otherwise). */
uint64_t ju(json_t *root, const char *key);
const char *js(json_t *root, const char *key);

/* The exit line of a final record ("exited: code 7"). */
void x_exit(json_t *r, char *b, size_t n);
/* A row of `watch` for record r, and its header line. */
void x_row(json_t *r, char *b, size_t n);
void x_row_header(char *b, size_t n);
/* A line of `events` for exit event e, and its header line. */
void x_event(json_t *e, char *b, size_t n);
void x_event_header(char *b, size_t n);
/* The whole `cgstat stat` output for record r; malloc'd, NULL on failure. */
char *x_stat(json_t *r);
/* The whole `cgstat ls` table for a list answer; malloc'd, NULL on failure. */
char *x_ls(const char *body);

#endif
